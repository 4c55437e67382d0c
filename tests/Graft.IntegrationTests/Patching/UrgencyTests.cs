using System.Globalization;
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
