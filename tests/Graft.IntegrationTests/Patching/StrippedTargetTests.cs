using Graft.Elf;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// A target stripped as Debian strips its packages, its symbols in a -dbgsym-style debug file: a patch that reaches
/// the target's static symbols (GRAFT_LOCAL) applies when the debug file is installed by build-id or found through
/// .gnu_debuglink, and is refused, naming the debug file it needs, when it is neither.
/// </summary>
public sealed class StrippedTargetTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("graft-stripped-").FullName;
    private readonly List<string> installed = [];

    public void Dispose()
    {
        // Installed files first, then the directories this test made, innermost first.
        foreach (var path in Enumerable.Reverse(installed))
        {
            if (File.Exists(path))
            {
                File.Delete(path);
            }
            else if (Directory.Exists(path) && !Directory.EnumerateFileSystemEntries(path).Any())
            {
                Directory.Delete(path);
            }
        }

        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public void LocalSymbolsAreReadFromTheDebugFileInstalledByBuildId()
    {
        var (program, debugFile) = Split(withDebugLink: false);
        var buildId = ElfFile.Load(program).BuildId!;
        Install(debugFile, $"{SeparateDebugFile.Root}/.build-id/{buildId[..2]}/{buildId[2..]}.debug");

        AppliesAndReverts(program);
    }

    [Fact]
    public void LocalSymbolsAreReadFromTheDebugFileItsDebugLinkNames()
    {
        var (program, _) = Split(withDebugLink: true);

        AppliesAndReverts(program);
    }

    [Fact]
    public void WithoutItsDebugFileThePatchIsRefusedNamingIt()
    {
        var (program, debugFile) = Split(withDebugLink: true);
        File.Delete(debugFile);
        var buildId = ElfFile.Load(program).BuildId!;
        using var counter = RunningFixture.StartProgram(program);

        var apply = Shell.Graft("apply", counter.Pid.ToString(), Repository.Patch("uses_locals"));

        Assert.Equal(2, apply.ExitCode);
        var error = Assert.Single(apply.Stderr.Split('\n'), l => l.StartsWith("graft: error:", StringComparison.Ordinal));
        Assert.Contains("its debug file is not installed", error);
        Assert.Contains($"{SeparateDebugFile.Root}/.build-id/{buildId[..2]}/{buildId[2..]}.debug", error);
        Assert.Contains(debugFile, error);
        Ticks.Next(counter, 2, "old");
    }

    [Fact]
    public void StatusSymbolizesTheStackOfAStrippedProgramFromItsDebugFile()
    {
        var (program, _) = Split(withDebugLink: true, fixture: "blocker");
        using var blocker = RunningFixture.StartProgram(program);
        var pid = blocker.Pid.ToString();
        Assert.Equal(7, Shell.Graft("apply", pid, Repository.Patch("slow_path"), "--timeout", "1").ExitCode);

        var status = Shell.Graft("status", pid);

        // worker is static: its name is in the debug file only.
        var frames = status.Stdout.Split('\n').Where(l => l.StartsWith("frame\t", StringComparison.Ordinal)).ToList();
        Assert.Contains(frames, f => f.Contains(" slow_path+", StringComparison.Ordinal));
        Assert.Contains(frames, f => f.Contains(" worker+", StringComparison.Ordinal));
    }

    private static void AppliesAndReverts(string program)
    {
        using var counter = RunningFixture.StartProgram(program);
        var pid = counter.Pid.ToString();

        var apply = Shell.Graft("apply", pid, Repository.Patch("uses_locals"));

        Assert.True(apply.ExitCode == 0, apply.Stderr);
        // secret = 42 and scramble(42) = 127 are static: only the debug file's .symtab has them.
        Ticks.Next(counter, 2, "local-42-127");
        Assert.Equal(0, Shell.Graft("revert", pid, "uses-locals").ExitCode);
        Ticks.Next(counter, 2, "old");
    }

    /// <summary>
    /// A fixture (gcc -O2 -g) and counter's library copied here, its debug information split off as dh_strip does
    /// (objcopy --only-keep-debug, strip --strip-debug --strip-unneeded), with a .gnu_debuglink to it or not.
    /// </summary>
    private (string Program, string DebugFile) Split(bool withDebugLink, string fixture = "counter")
    {
        var program = Path.Combine(directory, fixture);
        var debugFile = Path.Combine(directory, $"{fixture}.debug");
        File.Copy(Repository.Fixture(fixture), program);
        File.Copy(Repository.Fixture("libfixture.so.1"), Path.Combine(directory, "libfixture.so.1"));
        Run("objcopy", "--only-keep-debug", program, debugFile);
        Run("strip", "--strip-debug", "--strip-unneeded", "--remove-section=.comment", program);
        if (withDebugLink)
        {
            Run("objcopy", $"--add-gnu-debuglink={debugFile}", program);
        }

        Assert.True(ElfFile.Parse(File.ReadAllBytes(program)).Symbols.Count <= 1, "strip left a symbol table");
        return (program, debugFile);
    }

    private void Install(string debugFile, string path)
    {
        // Every directory this test creates is noted, to be taken away again.
        var missing = new Stack<string>();
        for (var parent = Path.GetDirectoryName(path)!; !Directory.Exists(parent); parent = Path.GetDirectoryName(parent)!)
        {
            missing.Push(parent);
        }

        foreach (var created in missing)
        {
            Directory.CreateDirectory(created);
            installed.Add(created);
        }

        Assert.False(File.Exists(path), $"{path} is installed already");
        installed.Add(path);
        File.Copy(debugFile, path);
    }

    private static void Run(string program, params string[] arguments)
    {
        var result = Shell.Run(program, arguments);
        Assert.True(result.ExitCode == 0, $"{program}: {result.Stderr}");
    }
}
