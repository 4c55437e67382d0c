using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Packaging;

/// <summary>
/// The .deb as an operator uses it: installed with dpkg, its graft run from /usr/bin in a directory
/// with no checkout, building a patch against the installed graft.h and libgraft.
/// </summary>
public sealed class DebianPackageTests(InstalledPackage package) : IClassFixture<InstalledPackage>, IDisposable
{
    private const string Graft = "/usr/bin/graft";
    private readonly string directory = Directory.CreateTempSubdirectory("graft-no-checkout-").FullName;

    [Fact]
    public void EverythingIsAtItsStandardPath()
    {
        var files = package.Files();

        foreach (var path in new[]
        {
            "/usr/bin/graft", "/usr/sbin/graftd", "/usr/include/graft.h", "/usr/lib/graft/libgraft.so",
            "/lib/systemd/system/graftd.service", "/usr/share/man/man1/graft.1.gz", "/usr/share/man/man8/graftd.8.gz",
            "/usr/share/bash-completion/completions/graft", "/usr/share/doc/graft/copyright", "/usr/share/doc/graft/changelog.Debian.gz",
            "/usr/share/ansible/collections/ansible_collections/graft/livepatch/plugins/modules/graft_patch.py",
        })
        {
            Assert.Contains(path, files);
        }

        Assert.Contains("\nExecStart=/usr/sbin/graftd --socket", File.ReadAllText("/lib/systemd/system/graftd.service"));
        Assert.StartsWith("libc6 (>= ", InstalledPackage.Check(Shell.Run("dpkg-deb", "-f", package.Deb, "Depends")).Stdout);
        Assert.Equal(0, InFreshDirectory("/usr/sbin/graftd --help").ExitCode);

        // graft-dbgsym: the symbols by build-id, where gdb and graft look.
        foreach (var binary in new[] { "/usr/bin/graft", "/usr/sbin/graftd", "/usr/lib/graft/libgraft.so" })
        {
            var note = InstalledPackage.Check(Shell.Run("readelf", "-n", binary)).Stdout;
            var id = note[(note.IndexOf("Build ID: ", StringComparison.Ordinal) + "Build ID: ".Length)..].Split('\n')[0].Trim();
            Assert.True(File.Exists($"/usr/lib/debug/.build-id/{id[..2]}/{id[2..]}.debug"), $"no debug file for {binary} ({id})");
        }
    }

    [Fact]
    public void TheInstalledGraftBuildsAPatchAndAppliesItWithNoCheckout()
    {
        File.WriteAllText(Path.Combine(directory, "fix.c"), """
            #include <graft.h>
            /* Calls into libgraft, so that the patch needs the installed library. */
            static const char *describe_packaged(unsigned long n) { return graft_shadow_get(&n, 1) ? "shadowed" : "packaged"; }
            static struct graft_func funcs[] = { { .old_name = "describe", .new_func = describe_packaged }, { } };
            static struct graft_object objs[] = { { .name = NULL, .funcs = funcs }, { } };
            static struct graft_patch patch = { .name = "packaged", .objs = objs };
            GRAFT_PATCH(patch);
            """);
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();

        InstalledPackage.Check(InFreshDirectory($"{Graft} build fix.c -o fix.so"));
        Assert.Contains("[/usr/lib/graft]", InstalledPackage.Check(Shell.Run("readelf", "-d", Path.Combine(directory, "fix.so"))).Stdout);
        InstalledPackage.Check(InFreshDirectory($"{Graft} apply {pid} fix.so"));

        Ticks.Next(counter, 2, "packaged");
        // The patch's libgraft is the installed one, found by the rpath graft build gave it.
        Assert.Contains("/usr/lib/graft/libgraft.so", File.ReadAllText($"/proc/{pid}/maps"));
        Assert.StartsWith("packaged\t", InstalledPackage.Check(InFreshDirectory($"{Graft} list {pid}")).Stdout);
        InstalledPackage.Check(InFreshDirectory($"{Graft} revert {pid} packaged"));
        Ticks.Next(counter, 2, "old");
    }

    [Fact]
    public void TheDemoRunsFromTheInstalledPackage()
    {
        var demo = InstalledPackage.Check(InFreshDirectory($"{Graft} demo --phase 0.5"));

        Assert.Contains("patching complete", demo.Stdout);
        Assert.Contains("unpatching complete", demo.Stdout);
    }

    [Fact]
    public void TheManPagesAndTheBashCompletionAreFound()
    {
        if (File.Exists("/usr/bin/man"))
        {
            Assert.Equal("/usr/share/man/man1/graft.1.gz", InstalledPackage.Check(Shell.Run("man", "-w", "graft")).Stdout.Trim());
            Assert.Equal("/usr/share/man/man8/graftd.8.gz", InstalledPackage.Check(Shell.Run("man", "-w", "8", "graftd")).Stdout.Trim());
        }

        var completion = InstalledPackage.Check(Shell.Run("bash", "-c", "source /usr/share/bash-completion/completions/graft && complete -p graft"));
        Assert.Equal("complete -F _graft graft", completion.Stdout.Trim());
        var subcommands = InstalledPackage.Check(Shell.Run("bash", "-c", """
            source /usr/share/bash-completion/completions/graft
            COMP_WORDS=(graft re); COMP_CWORD=1; _graft; echo "${COMPREPLY[*]}"
            """));
        Assert.Equal("revert", subcommands.Stdout.Trim());
    }

    [Fact]
    public void AnsibleFindsTheInstalledCollection()
    {
        // ansible-doc reads the module's DOCUMENTATION, EXAMPLES and RETURN: it fails on any it cannot parse.
        var doc = InstalledPackage.Check(InFreshDirectory("env -u ANSIBLE_COLLECTIONS_PATH ansible-doc -t module graft.livepatch.graft_patch"));

        Assert.Contains("/usr/share/ansible/collections/ansible_collections/graft/livepatch/plugins/modules/graft_patch.py", doc.Stdout);
        Assert.Contains("RETURN VALUES", doc.Stdout);
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>Runs a command line in this test's empty directory, far from any checkout.</summary>
    private Shell.Result InFreshDirectory(string command) =>
        Shell.Run("/bin/sh", "-c", $"cd '{directory}' && {command}");
}
