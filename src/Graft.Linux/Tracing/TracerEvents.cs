using System.Diagnostics;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Where every event of a tracee's threads comes from: waitpid(-1, __WALL | __WNOTHREAD) on the
/// tracing thread. One call returns whichever thread has an event, so waiting for one thread
/// costs one call per event, not one per traced thread per round of polling, and the wait can
/// block: the kernel wakes the tracer the moment a thread stops. __WNOTHREAD keeps the events
/// of other tracing threads (graftd holds one per process) and the children of other threads
/// out. The tracing thread itself never forks, so every event is a traced thread's.
/// Events are queued per thread until the code that waits for that thread takes them; events
/// of a thread Graft does not know yet (a new clone's first stop can come before its creator's
/// clone event) wait in the queue the same way. The kernel does not say when a thread stopped:
/// each event carries the last moment the kernel had nothing pending, after which it began.
/// </summary>
internal sealed class TracerEvents : IDisposable
{
    private readonly Dictionary<int, Queue<(WaitStatus Status, long QuietSince)>> pending = [];
    private readonly WaitAlarm alarm = new();

    // When a waitpid last found nothing pending (a Stopwatch timestamp, taken before the call).
    private long quietSince = Stopwatch.GetTimestamp();

    /// <summary>No traced thread is left to report anything (waitpid says ECHILD).</summary>
    public bool NoneTraced { get; private set; }

    /// <summary>The threads with an event taken from the kernel and not yet handled.</summary>
    public IReadOnlyCollection<int> Waiting => pending.Keys;

    /// <summary>The oldest event of <paramref name="tid"/> not yet taken, and the moment after which it happened.</summary>
    public bool TryTake(int tid, out WaitStatus status, out long happenedAfter)
    {
        (status, happenedAfter) = (default, 0);
        if (!pending.TryGetValue(tid, out var queue))
        {
            return false;
        }

        (status, happenedAfter) = queue.Dequeue();
        if (queue.Count == 0)
        {
            pending.Remove(tid);
        }

        return true;
    }

    /// <summary>Whether an exit of <paramref name="tid"/> waits in its queue, not yet taken.</summary>
    public bool HasQueuedExit(int tid) => pending.TryGetValue(tid, out var queue) && queue.Any(e => e.Status.Gone);

    /// <summary>Drops what is queued for a thread that left the table.</summary>
    public void Forget(int tid) => pending.Remove(tid);

    /// <summary>Takes every event the kernel holds, without blocking; true if there was one.</summary>
    public bool Collect()
    {
        var any = false;
        while (Next(Wait.WNOHANG))
        {
            any = true;
        }

        return any;
    }

    /// <summary>
    /// Blocks until the kernel has an event or <paramref name="timeout"/> has passed, then takes
    /// everything it holds; true if an event came.
    /// </summary>
    public bool Await(TimeSpan timeout)
    {
        if (Collect() || NoneTraced)
        {
            return true;
        }

        if (timeout <= TimeSpan.Zero)
        {
            return false;
        }

        var clock = Stopwatch.StartNew();
        alarm.Arm(timeout);
        try
        {
            // An EINTR before the time is up is some other signal of Graft's process: wait on.
            while (!Next(0))
            {
                if (NoneTraced || clock.Elapsed >= timeout)
                {
                    return NoneTraced;
                }

                alarm.Arm(timeout - clock.Elapsed);
            }
        }
        finally
        {
            alarm.Disarm();
        }

        Collect();
        return true;
    }

    /// <summary>One waitpid; true if it returned an event (queued), false if none (or EINTR).</summary>
    private bool Next(int options)
    {
        NoneTraced = false;
        var asked = Stopwatch.GetTimestamp();
        var tid = Wait.waitpid(-1, out var raw, Wait.__WALL | Wait.__WNOTHREAD | options);
        if (tid > 0)
        {
            if (!pending.TryGetValue(tid, out var queue))
            {
                queue = new Queue<(WaitStatus, long)>(1);
                pending[tid] = queue;
            }

            queue.Enqueue((new WaitStatus(raw), quietSince));
            return true;
        }

        if (tid == 0)
        {
            quietSince = asked;
            return false;
        }

        var error = ErrnoException.FromLastError("waitpid(-1)");
        if (error.Errno == Errno.EINTR)
        {
            return false;
        }

        if (error.Errno == Errno.ECHILD)
        {
            NoneTraced = true;
            return false;
        }

        throw error;
    }

    public void Dispose() => alarm.Dispose();
}
