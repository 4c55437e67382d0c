using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Daemon;

/// <summary>
/// graftd does not stay attached to a process it watches only for its loader (docs/ARCHITECTURE.md,
/// "A process graftd detaches from"): it detaches, and the loader stub calls it back through a
/// socket at each event graftd wants; a watch attaches again, and the thread waiting in the stub
/// traps and is served as before. Here stack_p1 names libstackmod.so, which modhost loads and
/// unloads on command. modhost has a SIGTRAP handler of its own: an int3 of graftd's reached
/// with no tracer would end it ("sigtrap", exit 5).
/// </summary>
public sealed class DetachedWatchTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly string directory = Directory.CreateTempSubdirectory("graftd-detached-").FullName;

    private string Socket => Path.Combine(directory, "graftd.sock");

    private string Journal => Path.Combine(directory, "graftd.journal");

    /// <summary>
    /// Each load and each unload of the library comes while graftd is detached: the load is
    /// patched as it comes, the unload goes through the going handler, and graftd detaches again.
    /// </summary>
    [Fact]
    public void LoadsAndUnloadsWhileGraftdIsDetachedAreServedOnACallBack()
    {
        using var log = new CallbackLog();
        using var host = StartHost(log);
        using var graftd = GraftdProcess.Start(Socket, Journal);
        Apply(host, "stack_p1");
        var detaches = AwaitDetached(graftd, host.Pid, 1);
        for (var round = 0; round < 2; round++)
        {
            Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", ""));
            detaches = AwaitDetached(graftd, host.Pid, detaches + 1);
            Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", ""));
            Assert.Equal("unloaded libstackmod.so", host.Send("unload libstackmod.so", ""));
            detaches = AwaitDetached(graftd, host.Pid, detaches + 1);
        }

        var journal = graftd.ReadJournal();
        Assert.Equal(2, journal.Count(l => l.EndsWith($"process {host.Pid}: applying patch 'stack-p1' to loading module 'libstackmod.so'", StringComparison.Ordinal)));
        Assert.Equal(2, journal.Count(l => l.EndsWith($"process {host.Pid}: reverting patch 'stack-p1' on unloading module 'libstackmod.so'", StringComparison.Ordinal)));
        Assert.Equal(0, graftd.Stop());
        Assert.True(host.IsAlive);
    }

    /// <summary>
    /// The load waits in the stub until graftd answers: with graftd frozen (SIGSTOP) it does not
    /// complete, and once graftd goes on, it completes patched, never unpatched.
    /// </summary>
    [Fact]
    public void ALoadWaitsForADetachedGraftdAndComesPatched()
    {
        using var log = new CallbackLog();
        using var host = StartHost(log);
        using var graftd = GraftdProcess.Start(Socket, Journal);
        Apply(host, "stack_p1");
        AwaitDetached(graftd, host.Pid, 1);

        int skip;
        graftd.Signal("STOP");
        try
        {
            skip = host.Lines().Count;
            host.Write("load libstackmod.so");
            Thread.Sleep(500);
            Assert.Equal(skip, host.Lines().Count);
            Assert.Equal(0, GraftdTests.TracerOf(host.Pid));
        }
        finally
        {
            graftd.Signal("CONT");
        }

        Assert.Equal("loaded libstackmod.so", host.WaitForLine(l => l.StartsWith("load", StringComparison.Ordinal), Patience, skip));
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", ""));
        Assert.Equal(0, graftd.Stop());
        Assert.True(host.IsAlive);
    }

    /// <summary>
    /// graftd killed outright while detached: the stub finds graftd's end of the socket closed
    /// and lets every load and unload pass, and a graftd started again takes the stub over.
    /// </summary>
    [Fact]
    public void AGraftdKilledWhileDetachedLeavesTheProcessLoadingOnItsOwn()
    {
        using var log = new CallbackLog();
        using var host = StartHost(log);
        using (var graftd = GraftdProcess.Start(Socket, Journal))
        {
            Apply(host, "stack_p1");
            AwaitDetached(graftd, host.Pid, 1);
            graftd.Kill();
        }

        for (var round = 0; round < 3; round++)
        {
            Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", "", Patience));
            Assert.StartsWith("call ", host.Send("call libstackmod.so stack_b", ""));
            Assert.Equal("unloaded libstackmod.so", host.Send("unload libstackmod.so", "", Patience));
        }

        using var second = GraftdProcess.Start(Socket, Journal);
        AwaitDetached(second, host.Pid, 1);
        Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", "", Patience));
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", ""));
        Assert.Equal(0, second.Stop());
        Assert.True(host.IsAlive);
    }

    /// <summary>
    /// The program closes every descriptor it did not open itself, graftd's socket and pidfd
    /// among them, and opens others under their numbers: the stub can no longer call graftd
    /// back. graftd finds that out on its own, arms the stub anew, and the next load is patched.
    /// </summary>
    [Fact]
    public void AProgramThatClosesGraftdsDescriptorsIsArmedAgain()
    {
        using var log = new CallbackLog();
        using var host = StartHost(log);
        using var graftd = GraftdProcess.Start(Socket, Journal);
        Apply(host, "stack_p1");
        var detaches = AwaitDetached(graftd, host.Pid, 1);
        Assert.Equal("closed-from 3", host.Send("closefrom 3", ""));
        graftd.WaitForJournal(l => l.EndsWith($"process {host.Pid}: graftd's descriptors for its loader stub were closed; watching its loader again", StringComparison.Ordinal), Patience);
        AwaitDetached(graftd, host.Pid, detaches + 1);
        Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", "", Patience));
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", ""));
        Assert.Equal(0, graftd.Stop());
        Assert.True(host.IsAlive);
    }

    /// <summary>
    /// A process in a network namespace of its own cannot reach graftd's listener (an abstract
    /// Unix socket name lives in a network namespace), so its stub has no socket to call back
    /// on: graftd stays attached, past the time it would have detached, and serves loads as before.
    /// </summary>
    [Fact]
    public void AProcessThatCannotReachGraftdsSocketStaysAttached()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartProgramWithInput("/usr/bin/unshare", log.Environment, "--net", Repository.Fixture("modhost"));
        using var graftd = GraftdProcess.Start(Socket, Journal);
        Apply(host, "stack_p1");
        Thread.Sleep(1500);
        Assert.NotEqual(0, GraftdTests.TracerOf(host.Pid));
        Assert.DoesNotContain(graftd.ReadJournal(), l => l.Contains($"detached from process {host.Pid}:", StringComparison.Ordinal));
        Assert.Equal("loaded libstackmod.so", host.Send("load libstackmod.so", "", Patience));
        Assert.Equal("call b1+host-p1", host.Send("call libstackmod.so stack_b", ""));
        Assert.Equal(0, graftd.Stop());
        Assert.True(host.IsAlive);
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>modhost, with a SIGTRAP handler of its own: a trap of graftd's that no tracer takes ends it.</summary>
    private static RunningFixture StartHost(CallbackLog log)
    {
        var host = RunningFixture.StartWithInput("modhost", log.Environment);
        Assert.Equal("trap-handler installed", host.Send("trap-handler", ""));
        return host;
    }

    /// <summary>Waits until graftd's journal says it detached from the process <paramref name="count"/> times in all, and the kernel agrees; returns the count.</summary>
    private static int AwaitDetached(GraftdProcess graftd, int pid, int count)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (graftd.ReadJournal().Count(l => l.Contains($"detached from process {pid}:", StringComparison.Ordinal)) < count
            || GraftdTests.TracerOf(pid) != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"graftd did not detach from process {pid} a {count}. time within {Patience.TotalSeconds} s");
            Thread.Sleep(10);
        }

        return count;
    }

    private void Apply(RunningFixture host, string patch)
    {
        var apply = Shell.GraftVia(Socket, "apply", host.Pid.ToString(), Repository.Patch(patch));
        Assert.True(apply.ExitCode == 0, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");
    }
}
