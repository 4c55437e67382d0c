using System.Diagnostics;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Threads and processes the target creates while Graft is attached. Clones are attached by the
/// kernel (PTRACE_O_TRACECLONE) and start in an event-stop, so Graft sees each before it runs a
/// single instruction; so are forked children (PTRACE_O_TRACEFORK), which Graft lets go again,
/// and vfork children (PTRACE_O_TRACEVFORK), held until they leave the process's memory.
/// </summary>
public sealed partial class Tracee
{
    /// <summary>
    /// Called with (creator, new thread) when a thread is created, both stopped: the new thread
    /// has not run yet, the creator sits at the return from clone. Neither may be resumed here.
    /// </summary>
    public Action<int, int>? ThreadCreated { get; set; }

    /// <summary>
    /// Called with (forking thread, child pid) when a thread forks, before the child runs: the
    /// child (one thread, a copy of the process as it was at the fork) is stopped and still
    /// attached, and the forking thread counts as stopped, so its registers and stack, which
    /// the child's thread shares, can be read. Graft detaches the child afterwards.
    /// </summary>
    public Action<int, int>? ProcessForked { get; set; }

    private void AdoptClone(TracedThread creator)
    {
        var tid = (int)EventMessage(creator.Tid);
        if (threads.TryGetValue(tid, out var known))
        {
            if (!events.HasQueuedExit(tid))
            {
                // Seized while Graft attached (SeizeAllThreads listed it before its creator's clone event came): that entry is this thread.
                return;
            }

            RetireReaped(known);
        }

        // A thread created by code Graft runs (the agent's pthread_create) is Graft's, from its first stop.
        var child = new TracedThread(tid) { StopEventPending = true, HasRun = false, IsGraftsOwn = creator.IsRunningInjected };
        threads.Add(tid, child);
        if (ThreadCreated is not { } observer)
        {
            return;
        }

        child.WantStopped = true;
        if (!AwaitStop(child))
        {
            return;
        }

        creator.IsStopped = true;
        try
        {
            observer(creator.Tid, tid);
        }
        finally
        {
            creator.IsStopped = false;
            Resume(tid);
        }
    }

    /// <summary>
    /// The thread the table still holds under a new thread's tid has ended: the kernel gives a tid again only once
    /// its thread was reaped, and a traced thread is reaped by Graft's own waitpid, so its exit is queued, ahead of
    /// anything the new thread has reported. It is taken now, with what came before it, so that the new thread gets
    /// the tid's table entry and, from the queue, only its own events.
    /// </summary>
    private void RetireReaped(TracedThread ended)
    {
        while (TryTakeEvent(ended, out var status))
        {
            if (status.Gone)
            {
                Handle(ended, status);
                return;
            }
        }
    }

    /// <summary>
    /// The child of a vfork runs in the target's memory, on its parent's stack, while the parent
    /// waits: it is held like a new thread (its first event-stop is served as a clone's), so its
    /// traps on code Graft rewrites are Graft's to handle, until its execve (<see cref="HandleExec"/>) or exit.
    /// </summary>
    private void AdoptVforkChild(TracedThread parent)
    {
        var tid = (int)EventMessage(parent.Tid);
        threads.TryAdd(tid, new TracedThread(tid) { StopEventPending = true, HasRun = false, IsVforkChild = true });
    }

    /// <summary>
    /// A vfork child that calls execve leaves the target's memory: it is let go. The target
    /// itself running execve ends everything Graft knew of it.
    /// </summary>
    private void HandleExec(TracedThread thread)
    {
        if (thread.IsVforkChild)
        {
            threads.Remove(thread.Tid);
            Ptrace.ptrace(Ptrace.PTRACE_DETACH, thread.Tid, 0, 0);
            return;
        }

        death.NoteExec();
        Restart(thread, ContinueRequest(thread), 0);
    }

    private void ReleaseForkedChild(TracedThread parent)
    {
        var child = (int)EventMessage(parent.Tid);

        if (!AwaitFirstStop(child))
        {
            return;
        }

        try
        {
            if (ProcessForked is { } observer)
            {
                parent.IsStopped = true;
                try
                {
                    observer(parent.Tid, child);
                }
                finally
                {
                    parent.IsStopped = false;
                }
            }
        }
        finally
        {
            Ptrace.ptrace(Ptrace.PTRACE_DETACH, child, 0, 0);
        }
    }

    /// <summary>A new child starts in an event-stop; until it has reported it, it cannot be detached. False if it died first (or never stopped).</summary>
    private bool AwaitFirstStop(int pid)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < StopTimeout)
        {
            if (events.TryTake(pid, out var status, out _))
            {
                if (status.Stopped || status.Gone)
                {
                    return status.Stopped;
                }

                continue;
            }

            events.Await(StopTimeout - clock.Elapsed);
        }

        return false;
    }

    private unsafe ulong EventMessage(int tid)
    {
        ulong message;
        if (Ptrace.ptrace(Ptrace.PTRACE_GETEVENTMSG, tid, 0, (nint)(&message)) != 0)
        {
            throw ErrnoException.FromLastError($"ptrace(PTRACE_GETEVENTMSG, {tid})");
        }

        return message;
    }
}
