using System.Diagnostics;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// The events a traced thread reports (ptrace(2), "Stopped states") and what Graft does with
/// each: the stops it asked for, clones, exits, and signals that must be passed on.
/// </summary>
public sealed partial class Tracee
{
    // How long a stop may take before the interrupt is sent again.
    private static readonly TimeSpan InterruptRepeat = TimeSpan.FromMilliseconds(100);

    // How long a stop may take at all. A running or interruptibly sleeping thread stops within
    // microseconds; one that has not after this sleeps where no interrupt reaches it.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Takes what the kernel holds and handles the pending events of the threads that run
    /// their own code (not stopped, not running Graft's, not <paramref name="except"/>); true
    /// if an event came or was handled, so that a caller waiting for one of the others looks
    /// at its queue again before it blocks. Events of the others wait for whoever waits for
    /// those threads.
    /// </summary>
    private bool ServeRunning(TracedThread? except = null)
    {
        var any = events.Collect();
        if (events.NoneTraced)
        {
            // The kernel says no thread is traced any more: every one has been reaped. Their last statuses, still
            // queued for threads graft held, say whether the process was killed.
            foreach (var thread in threads.Values.Where(t => !t.IsVforkChild))
            {
                while (TryTakeEvent(thread, out var status))
                {
                    if (status.Gone && status.Killed)
                    {
                        death.NoteKilled(status);
                    }
                }
            }

            threads.Clear();
            return false;
        }

        foreach (var tid in events.Waiting.ToList())
        {
            if (!threads.TryGetValue(tid, out var thread) || thread == except)
            {
                continue;
            }

            while (!thread.IsStopped && !thread.IsRunningInjected && IsTracked(thread) && TryTakeEvent(thread, out var status))
            {
                any = true;
                Handle(thread, status);
            }
        }

        return any;
    }

    private bool RequestStop(TracedThread thread)
    {
        thread.WantStopped = true;
        if (thread.StopEventPending)
        {
            return true;
        }

        thread.InterruptedAt = Stopwatch.GetTimestamp();
        if (Ptrace.ptrace(Ptrace.PTRACE_INTERRUPT, thread.Tid, 0, 0) != 0)
        {
            var error = ErrnoException.FromLastError($"ptrace(PTRACE_INTERRUPT, {thread.Tid})");
            if (error.Errno != Errno.ESRCH)
            {
                throw error;
            }

            // The thread is exiting; collect its exit status so it leaves the table.
            AwaitExit(thread);
            return false;
        }

        thread.StopEventPending = true;
        return true;
    }

    private bool AwaitStop(TracedThread thread)
    {
        var clock = Stopwatch.StartNew();
        var nextInterrupt = InterruptRepeat;
        while (!thread.IsStopped && IsTracked(thread))
        {
            ThrowIfDied();
            if (TryTakeEvent(thread, out var status))
            {
                Handle(thread, status);
                continue;
            }

            if (clock.Elapsed > StopTimeout)
            {
                throw new ThreadUnresponsiveException(Pid, thread.Tid, StopTimeout, DescribeTaskState(thread.Tid));
            }

            if (clock.Elapsed > nextInterrupt)
            {
                if (IsExiting(thread.Tid))
                {
                    // A zombie never stops; it leaves the table once reaped.
                    Forget(thread);
                    break;
                }

                // The stop has not come (seen under heavy thread creation): ask again. A surplus
                // stop is recognised as such in Handle and the thread resumed.
                Ptrace.ptrace(Ptrace.PTRACE_INTERRUPT, thread.Tid, 0, 0);
                nextInterrupt += InterruptRepeat;
            }

            // Other threads may need us meanwhile (a signal to pass on, a new thread's first stop).
            if (!ServeRunning(except: thread))
            {
                events.Await(nextInterrupt - clock.Elapsed);
            }
        }

        ThrowIfDied();
        return thread.IsStopped && IsTracked(thread);
    }

    /// <summary>The task's state and where it sleeps, from /proc: "D (disk sleep) in folio_wait_bit".</summary>
    private string DescribeTaskState(int tid)
    {
        try
        {
            var state = File.ReadLines($"/proc/{Pid}/task/{tid}/status").First(l => l.StartsWith("State:", StringComparison.Ordinal))["State:".Length..].Trim();
            var channel = File.ReadAllText($"/proc/{Pid}/task/{tid}/wchan").Trim();
            return channel is "" or "0" ? state : $"{state} in {channel}";
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            return "in an unknown state";
        }
    }

    /// <summary>
    /// Handles one event of a thread that is not stopped: it stays stopped if Graft asked for
    /// that, otherwise it goes on running with its signal passed on.
    /// </summary>
    private void Handle(TracedThread thread, WaitStatus status)
    {
        if (!status.Gone)
        {
            statistics.Seen(thread, status);
        }

        if (status.Gone)
        {
            Retire(thread);
            if (status.Killed && !thread.IsVforkChild)
            {
                death.NoteKilled(status);
            }
        }
        else if (status.IsCloneEvent)
        {
            AdoptClone(thread);
            Restart(thread, ContinueRequest(thread), 0);
        }
        else if (status.IsForkEvent)
        {
            ReleaseForkedChild(thread);
            Restart(thread, ContinueRequest(thread), 0);
        }
        else if (status.IsVforkEvent)
        {
            AdoptVforkChild(thread);
            Restart(thread, ContinueRequest(thread), 0);
        }
        else if (status.IsExecEvent)
        {
            HandleExec(thread);
        }
        else if (status.IsEventStop)
        {
            thread.StopEventPending = false;
            thread.GroupStopped = status.IsGroupStop;
            SyscallRestarts.RestartInterruptedCall(registers, thread, status);
            if (thread.WantStopped)
            {
                MarkStopped(thread);
            }
            else
            {
                // A new thread's first stop, or a surplus interrupt.
                Restart(thread, status.IsGroupStop ? Ptrace.PTRACE_LISTEN : ContinueRequest(thread), 0);
            }
        }
        else if (status.IsSyscallStop)
        {
            HandleSyscallStop(thread);
        }
        else if (!TryHandleTrap(thread, status))
        {
            // Signal-delivery-stop: hand the signal over, exactly as if no tracer were there.
            if (status.IsSignalDeliveryStop && !thread.IsVforkChild)
            {
                death.NoteIfFatal(thread, status.StopSignal);
            }

            Restart(thread, ContinueRequest(thread), status.IsSignalDeliveryStop ? status.StopSignal : 0);
        }
    }

    private void Restart(TracedThread thread, int request, int signal)
    {
        if (!thread.StopGoesOn)
        {
            statistics.Running(thread);
        }

        thread.HasRun = true;

        // PTRACE_LISTEN is only valid in the group-stop event itself; after an injection or a
        // trap the thread sits in another stop, and LISTEN would fail with EIO.
        thread.GroupStopped &= request == Ptrace.PTRACE_LISTEN;
        if (Ptrace.ptrace(request, thread.Tid, 0, signal) != 0)
        {
            var error = ErrnoException.FromLastError($"ptrace({request}, {thread.Tid})");
            if (error.Errno != Errno.ESRCH)
            {
                throw error;
            }

            AwaitExit(thread);
        }
    }

    /// <summary>
    /// Takes the exit of a thread that can no longer be stopped, so it leaves the table. A
    /// thread that vanished from ptrace's view may still report stops before its exit; nothing
    /// can be done with them. A zombie leader reports its exit only when the whole process
    /// ends: after <see cref="StopTimeout"/> it leaves the table without.
    /// </summary>
    private void AwaitExit(TracedThread thread)
    {
        var clock = Stopwatch.StartNew();
        while (!events.NoneTraced && clock.Elapsed < StopTimeout)
        {
            if (TryTakeEvent(thread, out var status))
            {
                if (status.Gone)
                {
                    Retire(thread);
                    return;
                }

                continue;
            }

            events.Await(StopTimeout - clock.Elapsed);
        }

        Forget(thread);
    }

    /// <summary>The thread's oldest event not yet taken; the stop it reports began after the kernel last had nothing pending (<see cref="StopStatistics"/>).</summary>
    private bool TryTakeEvent(TracedThread thread, out WaitStatus status)
    {
        if (!events.TryTake(thread.Tid, out status, out var happenedAfter))
        {
            return false;
        }

        thread.SeenRunningAt = Math.Max(thread.SeenRunningAt, happenedAfter);
        return true;
    }

    private void Forget(TracedThread thread)
    {
        Retire(thread);
        events.Forget(thread.Tid);
    }

    /// <summary>
    /// A thread whose exit Graft has taken leaves the table. What its tid's queue still holds was reported after
    /// that exit, so by a new thread the kernel gave the same tid: it stays queued for that thread.
    /// </summary>
    private void Retire(TracedThread thread)
    {
        if (IsTracked(thread))
        {
            threads.Remove(thread.Tid);
        }
    }

    /// <summary>
    /// Whether this very thread is in the table, not only its tid: the kernel gives a tid again once its thread has
    /// been reaped (by Graft's own waitpid, for a traced one), so a wait that outlives a thread must not take a new
    /// thread of the same number for it.
    /// </summary>
    private bool IsTracked(TracedThread thread) => threads.TryGetValue(thread.Tid, out var known) && known == thread;
}
