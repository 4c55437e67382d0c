using System.Diagnostics;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>Stopping, resuming and the handling of every event a traced thread can report.</summary>
public sealed partial class Tracee
{
    /// <summary>The longest any one thread has been stopped since the last reset (<see cref="StopStatistics"/>).</summary>
    public TimeSpan LongestStop => statistics.LongestStop;

    /// <summary>What the longest stop was for (a <see cref="StopKinds"/> kind, or the purpose given to <see cref="Stop"/>).</summary>
    public string? LongestStopKind => statistics.LongestStopKind;

    /// <summary>The most threads stopped at the same moment since the last reset.</summary>
    public int MostStoppedAtOnce => statistics.MostStoppedAtOnce;

    /// <summary>The stops since the last reset, by kind, longest first.</summary>
    public IReadOnlyList<StopKindCost> StopKindCosts => statistics.Kinds;

    public void ResetStopStatistics()
    {
        CheckOwner();
        statistics.Reset();
        TrapsHandled = 0;
    }

    /// <summary>
    /// Stops one thread; false if it exited instead. Other threads keep running. The stop counts
    /// under <paramref name="purpose"/> (<see cref="StopStatistics"/>).
    /// </summary>
    public bool Stop(int tid, string purpose)
    {
        CheckOwner();
        if (!threads.TryGetValue(tid, out var thread))
        {
            return false;
        }

        if (thread.IsStopped)
        {
            return true;
        }

        thread.StopPurpose = purpose;
        if (!RequestStop(thread))
        {
            return false;
        }

        // A thread that waits for a CPU takes the interrupt only when the scheduler comes to it: with the
        // program's threads keeping every CPU busy, one stop after another waited a whole scheduling
        // round each (moving 16 hot workers out of an entry took 17-43 ms, docs/PERFORMANCE.md item 25).
        // Raised, it gets a CPU at once and enters the stop, which the interrupt has made the first thing
        // it does on its way back to user space; so does a trap still pending at the stop
        // (SettlePendingTrap). It is lowered before graft resumes it.
        using (Urgency.Raise(tid))
        {
            return AwaitStop(thread) && SettlePendingTrap(thread);
        }
    }

    /// <summary>
    /// Stops every thread, including the ones created while stopping. A vfork child is not
    /// stopped but waited for: its parent cannot stop before the child leaves (execve or exit),
    /// and once every thread is stopped none can be in vfork, so none is left in the memory.
    /// </summary>
    public void StopAll(string purpose)
    {
        CheckOwner();
        while (true)
        {
            var running = threads.Values.Where(t => !t.IsStopped && !t.IsVforkChild).ToList();
            if (running.Count == 0)
            {
                AwaitVforkChildren();
                return;
            }

            running.ForEach(t => t.StopPurpose = purpose);

            // Interrupt all first, then collect: the threads stop concurrently, which keeps the
            // moment when every thread is stopped as short as we can make it.
            var requested = running.Where(RequestStop).ToList();
            foreach (var thread in requested)
            {
                if (AwaitStop(thread))
                {
                    SettlePendingTrap(thread);
                }
            }
        }
    }

    private void AwaitVforkChildren()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            ServeRunning();
            if (threads.Values.FirstOrDefault(t => t.IsVforkChild) is not { } child)
            {
                return;
            }

            if (clock.Elapsed > StopTimeout)
            {
                throw new ThreadUnresponsiveException(Pid, child.Tid, StopTimeout, "a vfork child still running in the process's memory");
            }

            events.Await(StopTimeout - clock.Elapsed);
        }
    }

    /// <summary>Resumes a stopped thread; a thread that has exited meanwhile needs nothing, one a policy holds waits for its <see cref="Release"/>.</summary>
    public void Resume(int tid)
    {
        CheckOwner();
        if (!threads.TryGetValue(tid, out var thread) || !thread.IsStopped)
        {
            return;
        }

        if (thread.Held)
        {
            // The caller is done with the thread; the policy's Release lets it run.
            thread.StoppedForGraft = false;
            return;
        }

        MarkResumed(thread);
        thread.WantStopped = false;
        Restart(thread, thread.GroupStopped ? Ptrace.PTRACE_LISTEN : ContinueRequest(thread), 0);
    }

    /// <summary>
    /// A thread created while Graft was attached that has not run a single instruction: its
    /// stack is empty by construction (its pc is still in clone3, where glibc gives no unwind
    /// information on purpose).
    /// </summary>
    public bool IsUnstarted(int tid) => !Get(tid).HasRun;

    public void ResumeAll()
    {
        CheckOwner();
        foreach (var tid in threads.Keys.ToList())
        {
            Resume(tid);
        }
    }

    /// <summary>
    /// Serves the running threads for a while: passes their signals on, notes new and exited
    /// threads. A traced thread that receives a signal waits in signal-delivery-stop until the
    /// tracer acts, so any time Graft waits while attached must be spent here.
    /// </summary>
    public void Pump(TimeSpan duration)
    {
        CheckOwner();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            ThrowIfDied();
            ServeRunning();
            if (threads.Count == 0 || clock.Elapsed >= duration)
            {
                break;
            }

            // Blocks until a thread has an event: one in signal-delivery-stop is served the
            // moment it stops, and Graft takes no CPU from the target meanwhile.
            events.Await(duration - clock.Elapsed);
        }

        ThrowIfDied();
    }

    // The statistics see the stop when its event is handled (Handle) and its end when the
    // thread is restarted (Restart); these only say whether Graft holds it.
    private static void MarkStopped(TracedThread thread) => thread.IsStopped = true;

    private static void MarkResumed(TracedThread thread) => thread.IsStopped = false;
}
