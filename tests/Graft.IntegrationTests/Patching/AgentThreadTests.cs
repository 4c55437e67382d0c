using System.Globalization;
using Graft.IntegrationTests.Support;
using Graft.Linux.Tracing;
using Graft.Patching;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// Graft's agent thread: started inside the target by the first apply, it runs every call Graft
/// makes there from then on, so that no thread of the program is stopped for them; it never
/// takes a signal meant for the program, and it gets out of glibc's way (SIGSETXID).
/// </summary>
public sealed class AgentThreadTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    // The stops of the program's threads for calls Graft runs: with an agent there are none.
    private static readonly string[] CallStops = ["load", "injected dlclose", "callback", "slot page unmap"];

    /// <summary>
    /// waiters' threads sleep in system calls: once the first apply has started the agent, a
    /// revert and a second apply load, unload and write code without stopping any thread of
    /// the program for Graft's calls, and the same agent serves both.
    /// </summary>
    [Fact]
    public void AfterTheFirstApplyGraftsCallsStopNoThreadOfTheProgram()
    {
        using var waiters = RunningFixture.Start("waiters");
        var patcher = new NoticeLog().NewPatcher();
        var threadsBefore = Tasks(waiters.Pid).Count;

        patcher.Apply(waiters.Pid, Repository.Patch("describe_new"), Long);
        var agent = Assert.Single(Agents(waiters.Pid));
        Assert.Equal(threadsBefore + 1, Tasks(waiters.Pid).Count);
        AssertParked(waiters.Pid, agent);
        Ticks.Next(waiters, 2, "new");

        var revert = patcher.Revert(waiters.Pid, "describe-new", Long);
        var again = patcher.Apply(waiters.Pid, Repository.Patch("describe_v2"), Long);

        foreach (var report in new[] { revert.Stops, again.Stops })
        {
            Assert.DoesNotContain(report.Kinds, k => CallStops.Contains(k.Kind));
            Assert.Contains(report.Kinds, k => k.Kind == StopKinds.Agent);
        }

        Assert.Equal([agent], Agents(waiters.Pid));
        AssertParked(waiters.Pid, agent);
        var tick = Ticks.Next(waiters, 2, "v2");

        // The program's sleeping threads never saw an EINTR for any of it.
        Assert.All(tick.Split(' ').Where(f => f.Contains('=') && !f.StartsWith("signalled=", StringComparison.Ordinal)), field =>
            Assert.EndsWith("=0", field, StringComparison.Ordinal));
    }

    /// <summary>
    /// setuid() and its kin in a threaded glibc program signal every thread (SIGSETXID) and wait
    /// until each has answered: the agent lets that signal in, so the program does not hang. Its
    /// pause() then returns and the agent ends; the revert runs on the program's threads, and the
    /// next completed apply starts another agent.
    /// </summary>
    [Fact]
    public void SetuidInTheProgramEndsTheAgentAndTheNextOperationStartsAnother()
    {
        using var host = RunningFixture.StartWithInput("modhost", new Dictionary<string, string>());
        var patcher = new NoticeLog().NewPatcher();
        patcher.Apply(host.Pid, Repository.Patch("callbacks_demo"), Long);
        var first = Assert.Single(Agents(host.Pid));

        Assert.Equal("setuid 0", host.Send("setuid", "setuid", TimeSpan.FromSeconds(10)));
        AwaitGone(host.Pid, first);

        patcher.Revert(host.Pid, "callbacks-demo", Long);
        Assert.Empty(Agents(host.Pid));
        Assert.Equal("describe host-old -", host.Send("describe", "describe"));
        patcher.Apply(host.Pid, Repository.Patch("callbacks_demo"), Long);
        var second = Assert.Single(Agents(host.Pid));
        Assert.NotEqual(first, second);
        AssertParked(host.Pid, second);
        Assert.Equal("describe host-new -", host.Send("describe", "describe"));
    }

    /// <summary>
    /// A graft killed during a code write leaves the agent under SCHED_FIFO, where a callback it
    /// later runs could keep a CPU from the program's threads; the next graft that attaches
    /// lowers it. The state is made here as that graft would leave it (chrt).
    /// </summary>
    [Fact]
    public void AnAgentLeftUnderSchedFifoByAKilledGraftIsLoweredByTheNextGraft()
    {
        using var waiters = RunningFixture.Start("waiters");
        var patcher = new NoticeLog().NewPatcher();
        patcher.Apply(waiters.Pid, Repository.Patch("describe_new"), Long);
        var agent = Assert.Single(Agents(waiters.Pid));
        Assert.Equal(0, Shell.Run("chrt", "-f", "-p", "1", $"{agent}").ExitCode);
        Assert.Equal(1, UrgencyTests.PolicyOf(waiters.Pid, agent));

        patcher.Revert(waiters.Pid, "describe-new", Long);

        AssertParked(waiters.Pid, agent);
        Ticks.Next(waiters, 2, "old");
    }

    private static List<int> Tasks(int pid) =>
        [.. Directory.GetDirectories($"/proc/{pid}/task").Select(d => int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture))];

    private static List<int> Agents(int pid) =>
        [.. Tasks(pid).Where(tid => Read(pid, tid, "comm").TrimEnd('\n') == "graft-agent")];

    /// <summary>
    /// Asleep in pause(), blocking every signal but the faults and glibc's SIGCANCEL and SIGSETXID, under SCHED_OTHER
    /// again (graft raises it to SCHED_FIFO only while it runs membarrier for a code write: <see cref="Urgency"/>).
    /// </summary>
    private static void AssertParked(int pid, int tid)
    {
        Assert.StartsWith("34 ", Read(pid, tid, "syscall"), StringComparison.Ordinal);
        Assert.Equal(0, UrgencyTests.PolicyOf(pid, tid));
        var blocked = ulong.Parse(Read(pid, tid, "status").Split('\n').Single(l => l.StartsWith("SigBlk:", StringComparison.Ordinal))[7..].Trim(), NumberStyles.HexNumber);
        Assert.Equal(Tracee.AgentSignalMask, blocked);
    }

    private static void AwaitGone(int pid, int tid)
    {
        for (var tries = 0; tries < 500 && Directory.Exists($"/proc/{pid}/task/{tid}"); tries++)
        {
            Thread.Sleep(10);
        }

        Assert.False(Directory.Exists($"/proc/{pid}/task/{tid}"), $"the agent {tid} is still there after the program's setuid");
    }

    private static string Read(int pid, int tid, string file) => File.ReadAllText($"/proc/{pid}/task/{tid}/{file}");
}
