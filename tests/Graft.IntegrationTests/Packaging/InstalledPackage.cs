using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Packaging;

/// <summary>
/// The Debian packages built by scripts/build-deb.sh from the published graft and graftd, installed
/// with dpkg on this machine for the tests of one class, and purged afterwards. The tests own the
/// package names graft and graft-dbgsym here: a graft installed before is purged too.
/// </summary>
public sealed class InstalledPackage : IDisposable
{
    private static readonly string[] Packages = ["graft-dbgsym", "graft"];
    private readonly string directory = Directory.CreateTempSubdirectory("graft-deb-").FullName;

    public InstalledPackage()
    {
        Assert.True(Environment.IsPrivilegedProcess, "the package tests install a .deb with dpkg: run them as root");
        var published = Path.GetDirectoryName(Published.Graft)!;
        _ = Published.Graftd;
        Check(Shell.Run(Path.Combine(Repository.Root, "scripts", "build-deb.sh"), "--from", published, directory));
        Deb = Directory.GetFiles(directory, "graft_*_amd64.deb").Single();

        // A run killed before its Dispose left them installed: start from none.
        Purge();
        Check(Shell.Run("dpkg", ["-i", .. Directory.GetFiles(directory, "*.deb")]));
    }

    /// <summary>The package graft, as built.</summary>
    public string Deb { get; }

    /// <summary>The files the graft package installed (dpkg -L).</summary>
    public IReadOnlyList<string> Files() =>
        Check(Shell.Run("dpkg", "-L", "graft")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public void Dispose()
    {
        try
        {
            Purge();
            Assert.NotEqual(0, Shell.Run("dpkg", "-s", "graft").ExitCode);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    internal static Shell.Result Check(Shell.Result result)
    {
        Assert.True(result.ExitCode == 0, $"exit code {result.ExitCode}:\n{result.Stdout}{result.Stderr}");
        return result;
    }

    private static void Purge() => Check(Shell.Run("dpkg", ["--purge", .. Packages]));
}
