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

    /// <summary>Handles at most one pending event per running thread; true if there was any.</summary>
    private bool PollRunning(TracedThread? except = null)
    {
        var any = false;
        foreach (var thread in threads.Values.Where(t => !t.IsStopped && !t.IsRunningInjected && t != except).ToList())
        {
            if (WaitFor(thread, block: false) is { } status)
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
        for (var idle = 0; !thread.IsStopped && threads.ContainsKey(thread.Tid); idle++)
        {
            ThrowIfDied();
            if (WaitFor(thread, block: false) is { } status)
            {
                Handle(thread, status);
                idle = 0;
                continue;
            }

            if (clock.Elapsed > StopTimeout)
            {
                throw new ThreadUnresponsiveException(Pid, thread.Tid, StopTimeout, DescribeTaskState(thread.Tid));
            }

            if (clock.Elapsed > nextInterrupt && IsExiting(thread.Tid))
            {
                // A zombie never stops; it leaves the table once reaped.
                threads.Remove(thread.Tid);
                break;
            }

            if (clock.Elapsed > nextInterrupt)
            {
                // The stop has not come (seen under heavy thread creation): ask again. A surplus
                // stop is recognised as such in Handle and the thread resumed.
                Ptrace.ptrace(Ptrace.PTRACE_INTERRUPT, thread.Tid, 0, 0);
                nextInterrupt += InterruptRepeat;
            }

            // Other threads may need us meanwhile (a signal to pass on, a new thread's first stop).
            if (PollRunning(except: thread))
            {
                idle = 0;
            }
            else if (idle > 100)
            {
                Thread.Sleep(0);
            }
        }

        ThrowIfDied();
        return thread.IsStopped && threads.ContainsKey(thread.Tid);
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
            threads.Remove(thread.Tid);
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

    private void AwaitExit(TracedThread thread)
    {
        while (WaitFor(thread, block: true) is { } status && !status.Gone)
        {
            // A thread that vanished from ptrace's view may still report stops before its exit;
            // nothing can be done with them.
        }

        threads.Remove(thread.Tid);
    }

    /// <summary>One waitpid on one thread; null when nothing is pending (non-blocking) or the thread is already reaped.</summary>
    private WaitStatus? WaitFor(TracedThread thread, bool block)
    {
        while (true)
        {
            var asked = Stopwatch.GetTimestamp();
            var result = Wait.waitpid(thread.Tid, out var raw, Wait.__WALL | (block ? 0 : Wait.WNOHANG));
            if (result == thread.Tid)
            {
                return new WaitStatus(raw);
            }

            if (result == 0)
            {
                // Nothing pending: a stop it reports later began after this (StopStatistics).
                thread.SeenRunningAt = asked;
                return null;
            }

            var error = ErrnoException.FromLastError($"waitpid({thread.Tid})");
            if (error.Errno == Errno.EINTR)
            {
                continue;
            }

            if (error.Errno == Errno.ECHILD)
            {
                threads.Remove(thread.Tid);
                return null;
            }

            throw error;
        }
    }
}
