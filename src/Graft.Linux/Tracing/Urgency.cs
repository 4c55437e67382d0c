using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// While threads of the target wait on graft (int3s at entries being rewritten, threads stopped one
/// at a time), the tracing thread, and the agent thread that runs membarrier for it, run under
/// SCHED_FIFO priority 1; so does a thread graft stops, from the interrupt until it has stopped
/// (<see cref="Tracee.Stop"/>). With the target's threads keeping every CPU busy, a tracer of ordinary
/// priority waits for a CPU at each event, and each thread that trapped waits with it
/// (docs/PERFORMANCE.md, item 16). Priority 1 is the lowest real-time one: it comes before every
/// ordinary thread and after every real-time thread of the host's own; the kernel's real-time
/// throttling still leaves ordinary threads their share. A thread already under another policy
/// than SCHED_OTHER keeps it, and so does every thread where graft lacks the privilege
/// (CAP_SYS_NICE or RLIMIT_RTPRIO): then nothing changes but speed. Scopes nest: the one that
/// raised a thread lowers it.
/// </summary>
public sealed class Urgency : IDisposable
{
    /// <summary>The calling thread, as sched_setscheduler names it.</summary>
    public const int Caller = 0;

    private readonly List<int> raised = [];

    private Urgency()
    {
    }

    public static Urgency Raise(params int[] threads)
    {
        var urgency = new Urgency();
        foreach (var tid in threads)
        {
            var urgent = new Scheduling.sched_param { sched_priority = 1 };
            if (Scheduling.sched_getscheduler(tid) == Scheduling.SCHED_OTHER
                && Scheduling.sched_setscheduler(tid, Scheduling.SCHED_FIFO | Scheduling.SCHED_RESET_ON_FORK, urgent) == 0)
            {
                urgency.raised.Add(tid);
            }
        }

        return urgency;
    }

    /// <summary>
    /// Lowers a thread of graft's own that a graft killed inside a scope left under SCHED_FIFO (the
    /// agent, raised for a code write): nothing but graft gives that thread a policy, so any other
    /// than SCHED_OTHER is such a leftover, and under it a callback the agent later runs could keep
    /// a CPU from every ordinary thread. Where graft may not change it, it stays as it is.
    /// </summary>
    public static void LowerLeftOver(int tid)
    {
        var policy = Scheduling.sched_getscheduler(tid);
        if (policy >= 0 && (policy & ~Scheduling.SCHED_RESET_ON_FORK) != Scheduling.SCHED_OTHER)
        {
            _ = Scheduling.sched_setscheduler(tid, Scheduling.SCHED_OTHER, new Scheduling.sched_param { sched_priority = 0 });
        }
    }

    /// <summary>Back to SCHED_OTHER, with the nice value each had (the policy change keeps it); a thread gone meanwhile is passed over.</summary>
    public void Dispose()
    {
        var ordinary = new Scheduling.sched_param { sched_priority = 0 };
        foreach (var tid in raised)
        {
            _ = Scheduling.sched_setscheduler(tid, Scheduling.SCHED_OTHER, ordinary);
        }

        raised.Clear();
    }
}
