using Graft.IntegrationTests.Support;
using Graft.Model.State;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Daemon;

/// <summary>graftd as a service: the graft command goes through it, and it can be stopped and started again at any time.</summary>
public sealed class GraftdTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("graftd-").FullName;

    private string Socket => Path.Combine(directory, "graftd.sock");

    private string Journal => Path.Combine(directory, "graftd.journal");

    /// <summary>
    /// Stopped while a patch is applied and its transition in flight, graftd lets the process
    /// go untouched; started again, it finds the transition in the process's state record,
    /// watches the process again and finishes the transition on its own once the blocking
    /// thread has left the old function, then lets the process go: a patch of the program's
    /// own code needs no watch.
    /// </summary>
    [Fact]
    public void AGraftdStartedAgainFindsTheTransitionInFlightAndCompletesIt()
    {
        using var blocker = RunningFixture.Start("blocker");
        using (var first = GraftdProcess.Start(Socket, Journal))
        {
            var apply = Shell.GraftVia(Socket, "apply", blocker.Pid.ToString(), Repository.Patch("slow_path"), "--timeout", "1");
            Assert.True(apply.ExitCode == 7, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");
            Assert.NotEqual(0, TracerOf(blocker.Pid));
            Assert.Equal(0, first.Stop());
        }

        Assert.True(blocker.IsAlive);
        Assert.Equal(0, TracerOf(blocker.Pid));
        Assert.Equal(PatchPhase.Patching, Patcher.List(blocker.Pid).Patches.Single().Phase);

        blocker.Signal("USR1");
        blocker.WaitForLine(l => l == "worker done", TimeSpan.FromSeconds(10));
        var firstGraftds = File.ReadAllLines(Journal).Length;
        using var second = GraftdProcess.Start(Socket, Journal);
        second.WaitForJournal(l => l.EndsWith($"process {blocker.Pid}: 'slow-path': patching complete", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Assert.Equal(PatchPhase.Patched, Patcher.List(blocker.Pid).Patches.Single().Phase);
        Ticks.Next(blocker, 2, "new");

        // A patch of the program's own code needs no watch once its transition is done: graftd
        // lets the process go, and attaches again for the revert.
        second.WaitForJournal(l => l.EndsWith($"released process {blocker.Pid}", StringComparison.Ordinal), TimeSpan.FromSeconds(10), skip: firstGraftds);
        Assert.Equal(0, TracerOf(blocker.Pid));
        var released = second.ReadJournal().Count;
        var revert = Shell.GraftVia(Socket, "revert", blocker.Pid.ToString(), "slow-path");
        Assert.True(revert.ExitCode == 0, $"graft revert exited {revert.ExitCode}: {revert.Stderr}");
        Assert.Contains("graft: 'slow-path': unpatching complete", revert.Stderr.Split('\n'));
        second.WaitForJournal(l => l.EndsWith($"released process {blocker.Pid}", StringComparison.Ordinal), TimeSpan.FromSeconds(10), skip: released);
        Assert.Equal(0, TracerOf(blocker.Pid));
        Assert.Equal(0, second.Stop());
    }

    /// <summary>
    /// Ctrl-C on a graft command that graftd runs rolls the operation back in graftd, as it does
    /// when graft runs it itself: exit 6, the code as it was, nothing left loaded or recorded.
    /// </summary>
    [Fact]
    public void AnApplyInterruptedThroughGraftdRollsBackAndLeavesTheTargetAsItWas()
    {
        using var blocker = RunningFixture.Start("blocker");
        var before = TargetText.Read(blocker.Pid);
        using var graftd = GraftdProcess.Start(Socket, Journal);
        var graft = GraftProcess.Run(
            ["apply", blocker.Pid.ToString(), Repository.Patch("slow_path"), "--timeout", "120", "--consistency", "stop-world"],
            line => line.Contains("starting patching transition", StringComparison.Ordinal),
            // Now graftd waits for the thread in slow_path to leave: interrupt the command as Ctrl-C would.
            process => Shell.Run("kill", "-INT", process.Id.ToString()),
            Socket);

        Assert.True(graft.ExitCode == 6, $"graft apply exited {graft.ExitCode}: {string.Join('\n', graft.Stderr)}");
        Assert.Contains(graft.Stderr, l => l.StartsWith("graft: error: interrupted", StringComparison.Ordinal));
        graftd.WaitForJournal(l => l.EndsWith($"released process {blocker.Pid}", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        before.AssertCodeUnchanged(blocker.Pid);
        Assert.Empty(Patcher.List(blocker.Pid).Patches);
        Assert.DoesNotContain(File.ReadAllLines($"/proc/{blocker.Pid}/maps"), l => l.Contains("graft-patch:slow-path", StringComparison.Ordinal));
        Assert.Equal(0, graftd.Stop());
    }

    /// <summary>
    /// A patch of the program's own code needs no watch of the loader: graftd applies it and
    /// lets the process go (its signals and library loads then cost it nothing), and attaches
    /// again for the next command. A patch waiting for a library keeps the process held.
    /// </summary>
    [Fact]
    public void AProcessWhosePatchesNeedNoWatchIsLetGoUntilOneWaitsForALibrary()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using var counter = RunningFixture.Start("counter");
        using var graftd = GraftdProcess.Start(Socket, Journal);

        var apply = Shell.GraftVia(Socket, "apply", counter.Pid.ToString(), Repository.Patch("describe_new"));
        Assert.True(apply.ExitCode == 0, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");
        graftd.WaitForJournal(l => l.EndsWith($"released process {counter.Pid}", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal(0, TracerOf(counter.Pid));
        Ticks.Next(counter, 2, "new");

        apply = Shell.GraftVia(Socket, "apply", host.Pid.ToString(), Repository.Patch("stack_p1"));
        Assert.True(apply.ExitCode == 0, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");
        // Held, attached or detached with its loader stub calling graftd back: never released.
        Assert.DoesNotContain(graftd.ReadJournal(), l => l.EndsWith($"released process {host.Pid}", StringComparison.Ordinal));
        host.Send("load libstackmod.so", "loaded");
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", "call"));

        var revert = Shell.GraftVia(Socket, "revert", counter.Pid.ToString(), "describe-new");
        Assert.True(revert.ExitCode == 0, $"graft revert exited {revert.ExitCode}: {revert.Stderr}");
        Ticks.Next(counter, 2, "old");
        Assert.Equal(0, graftd.Stop());
    }

    /// <summary>A graft that misses the graftd holding a process (another GRAFTD_SOCKET) says which socket it tried.</summary>
    [Fact]
    public void AGraftThatMissesTheGraftdHoldingAProcessNamesTheSocketItTried()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using var graftd = GraftdProcess.Start(Socket, Journal);
        var apply = Shell.GraftVia(Socket, "apply", host.Pid.ToString(), Repository.Patch("stack_p1"));
        Assert.True(apply.ExitCode == 0, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");

        var elsewhere = Path.Combine(directory, "elsewhere.sock");
        var revert = Shell.GraftVia(elsewhere, "revert", host.Pid.ToString(), "stack-p1");

        Assert.Equal(5, revert.ExitCode);
        var error = Assert.Single(revert.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("(graftd); only one tracer at a time", error);
        Assert.EndsWith($"no graftd answers at {elsewhere} (no such socket); GRAFTD_SOCKET names graftd's socket (default /run/graft/graftd.sock)", error);
        Assert.Equal(0, graftd.Stop());
    }

    /// <summary>A library loaded after graftd came back is patched: the restarted graftd watches the loader again.</summary>
    [Fact]
    public void AGraftdStartedAgainPatchesLibrariesLoadedAfterwards()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using (var first = GraftdProcess.Start(Socket, Journal))
        {
            var apply = Shell.GraftVia(Socket, "apply", host.Pid.ToString(), Repository.Patch("stack_p1"));
            Assert.True(apply.ExitCode == 0, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");
            Assert.Contains($"graft: 'stack-p1': object 'libstackmod.so' is not loaded in process {host.Pid}; graftd will patch it when it loads", apply.Stderr.Split('\n'));
            Assert.Equal(0, first.Stop());
        }

        using var second = GraftdProcess.Start(Socket, Journal);
        host.Send("load libstackmod.so", "loaded");
        var call = host.Send("call libstackmod.so stack_b", "call");
        Assert.True(call == "call b1+host-p1", $"{call}; graftd's journal:\n{string.Join('\n', second.ReadJournal())}");
        Assert.Equal(0, second.Stop());
    }

    /// <summary>A graftd killed outright leaves its int3 in the loader; the next one takes it over before anything loads.</summary>
    [Fact]
    public void AGraftdKilledAndStartedAgainTakesOverTheBreakpointItLeft()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        ApplyThroughAGraftdKilledAfterwards(host, "stack_p1");

        using var second = GraftdProcess.Start(Socket, Journal);
        host.Send("load libstackmod.so", "loaded");
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", "call"));
        Assert.True(host.IsAlive);
        Assert.Equal(0, second.Stop());
    }

    /// <summary>
    /// A graftd killed outright leaves its int3 on the loader's r_brk with no one to take the
    /// trap: the process, on its own now, loads and unloads libraries all the same (the SIGTRAP
    /// handler graftd installed does the `ret` the int3 replaced), and a later graftd sees the
    /// handler it finds as its own.
    /// </summary>
    [Fact]
    public void AProcessWatchedByAKilledGraftdLoadsLibrariesOnItsOwn()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        ApplyThroughAGraftdKilledAfterwards(host, "stack_p1");

        Assert.Equal(0, TracerOf(host.Pid));
        for (var round = 0; round < 3; round++)
        {
            Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", "loaded"));
            // Unwatched, the library loads as it is: its code runs, unpatched.
            Assert.StartsWith("call ", host.Send("call libstackmod.so stack_b", "call"));
            Assert.Equal("unloaded libstackmod.so", host.Send("unload libstackmod.so", "unloaded"));
        }

        Assert.True(host.IsAlive);
        using var second = GraftdProcess.Start(Socket, Journal);
        host.Send("load libstackmod.so", "loaded");
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", "call"));
        Assert.Equal(0, second.Stop());
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>Applies the patch through a graftd that is then killed outright (its watch left in the process).</summary>
    private void ApplyThroughAGraftdKilledAfterwards(RunningFixture host, string patch)
    {
        using var graftd = GraftdProcess.Start(Socket, Journal);
        var apply = Shell.GraftVia(Socket, "apply", host.Pid.ToString(), Repository.Patch(patch));
        Assert.True(apply.ExitCode == 0, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");
    }

    /// <summary>The thread tracing the process (TracerPid of its status), 0 for none.</summary>
    internal static int TracerOf(int pid) =>
        int.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("TracerPid:", StringComparison.Ordinal))["TracerPid:".Length..].Trim());
}
