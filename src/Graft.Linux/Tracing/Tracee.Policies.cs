using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Where policies built on the mechanism (Graft.Linux/Policies) take part in it: a handler for
/// the traps at an address, observers of system calls, and threads a policy holds stopped. The
/// tracee keeps no state of theirs.
/// </summary>
public sealed partial class Tracee
{
    private readonly Dictionary<ulong, ITrapHandler> trapHandlers = [];
    private readonly List<ISyscallObserver> syscallObservers = [];

    /// <summary>
    /// From now on, a trap on an int3 at <paramref name="address"/> goes to
    /// <paramref name="handler"/>, until Graft detaches: a trap taken just before the int3 went
    /// away is reported later, and must still be served.
    /// </summary>
    public void HandleTrapsAt(ulong address, ITrapHandler handler)
    {
        CheckOwner();
        trapHandlers[address] = handler;
    }

    /// <summary>From now on, <paramref name="observer"/> sees the syscall-stops of every thread, and decides which threads have them.</summary>
    public void ObserveSyscalls(ISyscallObserver observer)
    {
        CheckOwner();
        syscallObservers.Add(observer);
    }

    /// <summary>True while the thread runs code Graft put there (an injected syscall or call).</summary>
    public bool IsRunningInjected(int tid) => Get(tid).IsRunningInjected;

    /// <summary>
    /// Lets a thread held by <see cref="ThreadStop.Hold"/> go. A thread Graft was stopping, or
    /// held stopped, when the hold began stays stopped for that caller (<see cref="TracedThread.StoppedForGraft"/>).
    /// </summary>
    public void Release(int tid)
    {
        var thread = Get(tid);
        thread.Held = false;
        if (thread.StoppedForGraft)
        {
            // Pairs with Hold: a Stop was waiting for this thread when the hold began (a policy
            // served from inside AwaitStop), and that Stop returns it stopped.
            thread.StoppedForGraft = false;
            return;
        }

        Resume(tid);
    }

    internal void Hold(TracedThread thread)
    {
        thread.StoppedForGraft = thread.WantStopped;
        thread.WantStopped = true;
        thread.Held = true;
        MarkStopped(thread);
    }

    internal void KeepStopped(TracedThread thread)
    {
        thread.WantStopped = true;
        MarkStopped(thread);
    }

    internal void WriteRegistersInStop(TracedThread thread, UserRegs regs) => registers.Write(thread.Tid, regs);

    /// <summary>A syscall-stop of a thread running the program's code: each observer sees it, until one keeps the thread.</summary>
    private void HandleSyscallStop(TracedThread thread)
    {
        var stop = new ThreadStop(this, thread, registers.Read(thread.Tid));
        foreach (var observer in syscallObservers)
        {
            observer.Stopped(stop);
            if (stop.IsKept)
            {
                return;
            }
        }

        Restart(thread, ContinueRequest(thread), 0);
    }

    /// <summary>A syscall-stop of the thread running Graft's code, shown to the observers before the code goes on.</summary>
    private void ObserveInjectedSyscall(TracedThread thread)
    {
        if (syscallObservers.Count == 0)
        {
            return;
        }

        var regs = registers.Read(thread.Tid);
        foreach (var observer in syscallObservers)
        {
            observer.StoppedInInjected(thread.Tid, regs);
        }
    }

    private void EndInjected(TracedThread thread)
    {
        foreach (var observer in syscallObservers)
        {
            observer.InjectedEnded(thread.Tid);
        }
    }

    /// <summary>How a thread goes on running: with syscall-stops while an observer follows it.</summary>
    private int ContinueRequest(TracedThread thread) =>
        syscallObservers.Any(o => o.Follows(thread.Tid)) ? Ptrace.PTRACE_SYSCALL : Ptrace.PTRACE_CONT;
}
