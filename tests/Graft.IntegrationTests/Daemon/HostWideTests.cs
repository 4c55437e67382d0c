using System.Text.RegularExpressions;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Daemon;

/// <summary>
/// graft enable and disable: graftd's host-wide list, its exec hook (listed in the real
/// /etc/ld.so.preload, which <see cref="PreloadGuard"/> puts back as it was), and what processes
/// that start get. Each test's program has a build-id of its own, so only its processes match; the
/// hook reads this test's hook file (GRAFT_HOOK_FILE), so other processes of the machine find no
/// match either way.
/// </summary>
public sealed class HostWideTests : IDisposable
{
    private static readonly string HookLibrary = Path.Combine(Repository.Runtime, "lib", "libgraft-hook.so");

    private readonly PreloadGuard preload = new();
    private readonly string directory = Directory.CreateTempSubdirectory("graft-hostwide-").FullName;
    private readonly List<GraftdProcess> graftds = [];

    private string Socket => Path.Combine(directory, "graftd.sock");

    private string HookFile => Path.Combine(directory, "exec-hook");

    private string HookSocket => Path.Combine(directory, "hook.sock");

    [Fact]
    public void AnEnabledPatchReachesRunningProcessesAndProcessesThatStartBeforeMainAndSurvivesARestart()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "enabled");
        var other = AnswerPrograms.BuildProgram(directory, "other");
        using var running = RunningFixture.StartProgram(program);
        var graftd = StartGraftd();

        var enable = Shell.GraftVia(Socket, "enable", patch);

        Assert.True(enable.ExitCode == 0, enable.Stdout + enable.Stderr);
        Assert.Contains("graft: 'answer-43' enabled host-wide", enable.Stderr);
        Assert.StartsWith($"process {running.Pid} (program): applied", enable.Stdout);
        running.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal));
        Assert.Contains(HookLibrary, PreloadGuard.Entries());
        AssertFirstTick(program, 43);
        using (var unrelated = StartHooked(other))
        {
            Assert.StartsWith("tick 42", unrelated.Lines()[0]);
            Assert.Contains("no patches applied", Shell.Graft("list", unrelated.Pid.ToString()).Stderr);
        }

        Assert.Contains("host-wide: 'answer-43' enabled for build-id", Shell.GraftVia(Socket, "list", "--all").Stdout);

        Assert.Equal(0, graftd.Stop());
        Assert.DoesNotContain(HookLibrary, PreloadGuard.Entries());
        StartGraftd();

        Assert.Contains(HookLibrary, PreloadGuard.Entries());
        Assert.Contains("host-wide: 'answer-43' enabled for build-id", Shell.GraftVia(Socket, "list", "--all").Stdout);
        AssertFirstTick(program, 43);
    }

    /// <summary>
    /// A process that maps no patched object when it starts, and dlopens the library a patch is for
    /// later: its hook asks graftd before the call, and the library runs the new code from its
    /// constructor on. The library is found by the program's own RUNPATH ($ORIGIN): the hook's
    /// dlopen leaves the caller to glibc's as it was. Without the hook, the same load runs the old code.
    /// </summary>
    [Fact]
    public void ALibraryAProcessLoadsAfterItStartedIsPatchedBeforeItsConstructorRuns()
    {
        var (program, _, patch) = AnswerPrograms.BuildLoaderWithLibraryPatch(directory, "loads");
        var graftd = StartGraftd();
        Assert.Equal(0, Shell.GraftVia(Socket, "enable", patch).ExitCode);
        Assert.Contains(" loadable\n", File.ReadAllText(HookFile));

        using var hooked = RunningFixture.StartProgramWithInput(program, new Dictionary<string, string> { ["GRAFT_HOOK_FILE"] = HookFile });
        Assert.Contains("no patches applied", Shell.Graft("list", hooked.Pid.ToString()).Stderr);

        Assert.Equal($"loaded 43 {hooked.Pid}", hooked.Send("load libanswer.so", "load"));
        Assert.StartsWith("constructor 43 ", Assert.Single(hooked.Lines(), l => l.StartsWith("constructor", StringComparison.Ordinal)));
        Assert.Contains($"process {hooked.Pid} is about to load a library (dlopen)", File.ReadAllText(graftd.Journal));
        Assert.Contains("lib-answer-43", Shell.Graft("list", hooked.Pid.ToString()).Stdout);

        using var unhooked = RunningFixture.StartProgramWithInput(program, new Dictionary<string, string> { ["GRAFT_HOOK_FILE"] = Path.Combine(directory, "none") });
        Assert.Equal($"loaded 42 {unhooked.Pid}", unhooked.Send("load libanswer.so", "load"));
        Assert.StartsWith("constructor 42 ", Assert.Single(unhooked.Lines(), l => l.StartsWith("constructor", StringComparison.Ordinal)));
    }

    /// <summary>
    /// A child forked after its parent asked (and holds the patch, pending, for a library neither
    /// has loaded) loads the library patched too, and so does the parent after it: the child
    /// inherits the patch but not graftd's hold on its loader, and asks for itself.
    /// </summary>
    [Fact]
    public void AChildForkedAfterItsParentAskedLoadsTheLibraryPatchedToo()
    {
        var (program, _, patch) = AnswerPrograms.BuildLoaderWithLibraryPatch(directory, "forks");
        StartGraftd();
        Assert.Equal(0, Shell.GraftVia(Socket, "enable", patch).ExitCode);
        using var hooked = RunningFixture.StartProgramWithInput(program, new Dictionary<string, string> { ["GRAFT_HOOK_FILE"] = HookFile });
        Assert.StartsWith("load-failed", hooked.Send("load libabsent.so", "load"));
        Assert.Contains("lib-answer-43", Shell.Graft("list", hooked.Pid.ToString()).Stdout);

        Assert.Equal("forked 0", hooked.Send("fork-load libanswer.so", "forked"));
        var child = Assert.Single(hooked.Lines(), l => l.StartsWith("loaded", StringComparison.Ordinal));
        Assert.StartsWith("loaded 43 ", child);
        Assert.Equal($"loaded 43 {hooked.Pid}", hooked.Send("load libanswer.so", "load"));
        Assert.Equal(2, hooked.Lines().Count(l => l.StartsWith("constructor 43 ", StringComparison.Ordinal)));
    }

    [Fact]
    public void AfterGraftdIsKilledProcessesStartUnpatchedAndAGraftdStartingAppliesTheListToThem()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "killed");
        var graftd = StartGraftd();
        Assert.Equal(0, Shell.GraftVia(Socket, "enable", patch).ExitCode);

        graftd.Kill();

        // The hook stays listed with nothing to answer it: the process starts, and runs the old code.
        Assert.Contains(HookLibrary, PreloadGuard.Entries());
        using var started = StartHooked(program);
        Assert.StartsWith("tick 42", started.Lines()[0]);

        // A graftd starting (the unit at boot) applies the list to what runs, as kpatch.service loads its patches.
        StartGraftd();
        started.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal));

        var disable = Shell.GraftVia(Socket, "disable", "answer-43");

        Assert.True(disable.ExitCode == 0, disable.Stdout + disable.Stderr);
        Assert.True(disable.Stdout.Contains($"process {started.Pid} (program): reverted", StringComparison.Ordinal), disable.Stdout);
        started.NextLine(l => l.StartsWith("tick 42", StringComparison.Ordinal));
        Assert.DoesNotContain(HookLibrary, PreloadGuard.Entries());
        Assert.DoesNotContain("host-wide:", Shell.GraftVia(Socket, "list", "--all").Stdout);
        AssertFirstTick(program, 42);
    }

    [Fact]
    public void AProcessThatStartsWhileGraftdDoesNotAnswerRunsOnUnpatchedAfterTheHooksBoundAndIsPatchedWhenGraftdComesBack()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "stopped");
        var graftd = StartGraftd();
        Assert.Equal(0, Shell.GraftVia(Socket, "enable", patch).ExitCode);

        // Stopped, graftd's socket still takes the connection (its backlog) and nothing answers.
        graftd.Signal("STOP");
        RunningFixture started;
        try
        {
            started = StartHooked(program);
        }
        finally
        {
            graftd.Signal("CONT");
        }

        using (started)
        {
            Assert.StartsWith("tick 42", started.Lines()[0]);
            // graftd takes the connection it left waiting, and patches the process as it runs.
            started.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>graft enable and disable, done or refused, are in graftd's audit trail: who asked, the patch, its SHA-256 and signer, the result.</summary>
    [Fact]
    public void EnableDisableAndARefusedEnableAreInTheAuditTrail()
    {
        var (_, patch) = AnswerPrograms.BuildWithPatch(directory, "audited");
        var graftd = StartGraftd();

        Assert.Equal(0, Shell.GraftVia(Socket, "enable", patch).ExitCode);
        Assert.Equal(0, Shell.GraftVia(Socket, "disable", "answer-43").ExitCode);
        Assert.Equal(2, Shell.GraftVia(Socket, "enable", Repository.Patch("describe_new")).ExitCode);

        graftd.WaitForJournal(l => l.Contains("audit: ", StringComparison.Ordinal) && l.Contains("op=enable pid=- patch=- ", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        var audit = File.ReadAllLines(graftd.Journal).Where(l => l.Contains("audit: ", StringComparison.Ordinal)).Select(l => l[(l.IndexOf("uid=", StringComparison.Ordinal))..]).ToList();
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(patch)));
        Assert.Equal(3, audit.Count);
        Assert.Matches($"^uid=0 loginuid=\\S+ client_pid=\\d+ op=enable pid=- patch=answer-43 file={Regex.Escape(patch)} sha256={sha256} signer=unsigned result=ok$", audit[0]);
        Assert.Matches($"^uid=0 loginuid=\\S+ client_pid=\\d+ op=disable pid=- patch=answer-43 file=\\S+ sha256={sha256} signer=unsigned result=ok$", audit[1]);
        Assert.Matches($"^uid=0 loginuid=\\S+ client_pid=\\d+ op=enable pid=- patch=- file={Regex.Escape(Repository.Patch("describe_new"))} sha256=- signer=- result=\"refused: patch 'describe-new' pins no build-id", audit[2]);
    }

    [Fact]
    public void BadInputIsOneErrorAndTheListStaysAsItWas()
    {
        var before = PreloadGuard.Entries();
        var withoutGraftd = Shell.GraftVia(Socket, "enable", Repository.Patch("describe_new"));
        StartGraftd();

        var unpinned = Shell.GraftVia(Socket, "enable", Repository.Patch("describe_new"));
        var unknown = Shell.GraftVia(Socket, "disable", "no-such-patch");

        Assert.Equal(2, withoutGraftd.ExitCode);
        Assert.Contains($"graft: error: graftd keeps the host-wide patch list: no graftd answers at {Socket}", withoutGraftd.Stderr);
        Assert.Equal(2, unpinned.ExitCode);
        Assert.Contains("graft: error: patch 'describe-new' pins no build-id", unpinned.Stderr);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("graft: error: no patch 'no-such-patch' is enabled host-wide", unknown.Stderr);
        Assert.Equal(before, PreloadGuard.Entries());
        Assert.DoesNotContain("host-wide:", Shell.GraftVia(Socket, "list", "--all").Stdout);
    }

    /// <summary>
    /// A second graftd, started while one runs (by hand, or a second unit) with its own main socket and the first one's
    /// exec hook socket, or on the very same paths: it refuses at once, naming the path and the first one's pid, and
    /// leaves the first one's hook socket, hook file, ld.so.preload entry and host-wide list as they were; the first
    /// one still patches processes that start, and still answers graft.
    /// </summary>
    [Fact]
    public void ASecondGraftdRefusesNamingTheFirstOnesSocketAndPidAndLeavesItsSocketsAndFilesAlone()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "second");
        var first = StartGraftd();
        Assert.Equal(0, Shell.GraftVia(Socket, "enable", patch).ExitCode);
        var hookFile = File.ReadAllText(HookFile);
        var list = File.ReadAllText(Path.Combine(directory, "state", "enabled.json"));
        var preloaded = PreloadGuard.Entries();
        var secondSocket = Path.Combine(directory, "second.sock");

        var onTheHookSocket = GraftdProcess.RunToExit(secondSocket, Path.Combine(directory, "second.journal"), Options());
        var onTheSamePaths = GraftdProcess.RunToExit(Socket, Path.Combine(directory, "second.journal"), Options());

        Assert.Equal(1, onTheHookSocket.ExitCode);
        Assert.Contains($"error: another graftd (pid {first.Pid}) serves the exec hook on {HookSocket} (it holds {HookSocket}.lock)", onTheHookSocket.Stdout);
        Assert.False(File.Exists(secondSocket));
        Assert.Equal(1, onTheSamePaths.ExitCode);
        Assert.Contains($"error: another graftd (pid {first.Pid}) serves {Socket} (it holds {Socket}.lock)", onTheSamePaths.Stdout);
        Assert.True(File.Exists(HookSocket));
        Assert.Equal(hookFile, File.ReadAllText(HookFile));
        Assert.Equal(list, File.ReadAllText(Path.Combine(directory, "state", "enabled.json")));
        Assert.Equal(preloaded, PreloadGuard.Entries());
        AssertFirstTick(program, 43);
        Assert.Contains("host-wide: 'answer-43' enabled for build-id", Shell.GraftVia(Socket, "list", "--all").Stdout);
    }

    public void Dispose()
    {
        graftds.ForEach(g => g.Dispose());
        preload.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    private GraftdProcess StartGraftd()
    {
        var graftd = GraftdProcess.Start(Socket, Path.Combine(directory, "graftd.journal"), Options());
        graftds.Add(graftd);
        return graftd;
    }

    /// <summary>This test's graftd's paths, besides its socket and journal.</summary>
    private string[] Options() =>
        ["--state", Path.Combine(directory, "state"), "--hook-file", HookFile, "--hook-socket", HookSocket, "--hook-library", HookLibrary];

    /// <summary>A process of <paramref name="program"/> started now, its hook reading this test's hook file.</summary>
    private RunningFixture StartHooked(string program) =>
        RunningFixture.StartProgram(program, new Dictionary<string, string> { ["GRAFT_HOOK_FILE"] = HookFile });

    /// <summary>A process started now prints <paramref name="answer"/> from its very first line: patched (or not) before main.</summary>
    private void AssertFirstTick(string program, int answer)
    {
        using var started = StartHooked(program);
        Assert.StartsWith($"tick {answer} ", started.Lines()[0]);
    }
}
