using System.Globalization;
using Graft.IntegrationTests.Support;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// <see cref="Urgency"/>: a scope raises the threads it names from SCHED_OTHER to SCHED_FIFO priority 1 and lowers
/// them when it ends; a nested scope leaves them to the scope that raised them. The tests run as root, as graft does.
/// </summary>
public sealed class UrgencyTests
{
    private const int SchedOther = 0;
    private const int SchedFifo = 1;

    [Fact]
    public void AScopeRaisesTheCallerAndLowersItWhenItEnds() => OnOwnThread(tid =>
    {
        using (Urgency.Raise(Urgency.Caller))
        {
            Assert.Equal((SchedFifo, 1), (PolicyOf(Environment.ProcessId, tid), PriorityOf(Environment.ProcessId, tid)));
        }

        Assert.Equal((SchedOther, 0), (PolicyOf(Environment.ProcessId, tid), PriorityOf(Environment.ProcessId, tid)));
    });

    [Fact]
    public void AnInnerScopeLeavesTheThreadRaisedUntilTheOuterOneEnds() => OnOwnThread(tid =>
    {
        using (Urgency.Raise(Urgency.Caller))
        {
            using (Urgency.Raise(Urgency.Caller))
            {
            }

            Assert.Equal(SchedFifo, PolicyOf(Environment.ProcessId, tid));
        }

        Assert.Equal(SchedOther, PolicyOf(Environment.ProcessId, tid));
    });

    /// <summary>
    /// graft raises every thread it stops until it has stopped (<see cref="Tracee.Stop"/>): an apply and a revert into
    /// workers that run under SCHED_OTHER at several nice values, SCHED_BATCH, SCHED_IDLE and with SCHED_RESET_ON_FORK,
    /// each stopped at least once by the move out of hot()'s entry and by the sweeps, leave every thread's policy, flag,
    /// priority and nice value as the program set them.
    /// </summary>
    [Fact]
    public void AnApplyAndARevertLeaveEveryThreadsSchedulingAsTheProgramSetIt()
    {
        using var hot = RunningFixture.Start("hot", "5", "200", "20", "policies");
        var pid = hot.Pid.ToString(CultureInfo.InvariantCulture);
        var before = Directory.GetDirectories($"/proc/{hot.Pid}/task").Select(d => int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture))
            .ToDictionary(tid => tid, tid => SchedulingOf(hot.Pid, tid));
        Assert.Equal(5, before.Values.Select(s => (s.Policy, s.Nice)).Distinct().Count());

        var apply = Shell.Graft("apply", pid, Repository.Patch("hot_new"));
        Assert.True(apply.ExitCode == 0, apply.Stderr);
        hot.NextLine(l => l.Contains(" new=5 ", StringComparison.Ordinal));
        Assert.Equal(before, before.Keys.ToDictionary(tid => tid, tid => SchedulingOf(hot.Pid, tid)));

        var revert = Shell.Graft("revert", pid, "hot-new");
        Assert.True(revert.ExitCode == 0, revert.Stderr);
        hot.NextLine(l => l.Contains(" new=0 ", StringComparison.Ordinal));
        Assert.Equal(before, before.Keys.ToDictionary(tid => tid, tid => SchedulingOf(hot.Pid, tid)));
    }

    /// <summary>A thread's policy with its SCHED_RESET_ON_FORK flag (sched_getscheduler), real-time priority and nice value.</summary>
    private static (int Policy, int Priority, int Nice) SchedulingOf(int pid, int tid) =>
        (Scheduling.sched_getscheduler(tid), PriorityOf(pid, tid), StatField(pid, tid, 19));

    /// <summary>The policy of a thread: field 41 of its /proc stat line.</summary>
    public static int PolicyOf(int pid, int tid) => StatField(pid, tid, 41);

    private static int PriorityOf(int pid, int tid) => StatField(pid, tid, 40);

    private static int StatField(int pid, int tid, int field)
    {
        var stat = File.ReadAllText($"/proc/{pid}/task/{tid}/stat");

        // Fields from 3 on follow the command name's closing parenthesis.
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[field - 3], CultureInfo.InvariantCulture);
    }

    /// <summary>A thread of the test's own, so that no thread of the pool keeps a policy if an assertion fails inside.</summary>
    private static void OnOwnThread(Action<int> test)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                test(PtraceThread.CurrentOsThread());
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw failure;
        }
    }
}
