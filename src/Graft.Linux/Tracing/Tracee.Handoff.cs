using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Graft's injected calls (dlopen, dlclose of a patch) take the program's locks like any other
/// code, and a glibc mutex is not fair: a thread that releases it and takes it again at once
/// keeps a waiter out for as long as it loops. Graft's thread, slowed down by its own
/// syscall-stops, is such a waiter: a dlopen of a patch was kept out of the loader's lock for
/// 10 s by a thread loading and unloading a library in a loop. So when the thread running
/// Graft's call waits on a mutex that another traced thread owns, the owner is watched until it
/// wakes the waiters, that is until it has released the mutex, and parked there, holding
/// nothing, until Graft's thread owns the mutex or its call has ended. The owner then contends
/// as usual.
/// </summary>
public sealed partial class Tracee
{
    // pthread_mutex_t: int __lock (the futex word); unsigned __count; int __owner (a tid).
    private const int MutexOwnerOffset = 8;

    private readonly List<TracedThread> parkedForHandoff = [];
    private TracedThread? handoffWaiter;
    private ulong handoffMutex;

    /// <summary>At each syscall-stop of the thread running Graft's call.</summary>
    private void ObserveInjectedSyscall(TracedThread injected)
    {
        if (injected == handoffWaiter && parkedForHandoff.Count > 0 && MutexOwner(handoffMutex) == injected.Tid)
        {
            ReleaseParked();
        }

        var regs = ReadRegisters(injected.Tid);
        var isWaitEntry = regs.rax == SyscallEntryRax && regs.orig_rax == (ulong)Syscalls.SYS_futex
            && (regs.rsi & Syscalls.FUTEX_CMD_MASK) == Syscalls.FUTEX_WAIT;
        if (!isWaitEntry || !threads.TryGetValue(MutexOwner(regs.rdi), out var owner) || owner == injected || owner.HandoffMutex == regs.rdi)
        {
            return;
        }

        handoffWaiter = injected;
        handoffMutex = regs.rdi;
        owner.HandoffMutex = regs.rdi;

        // It runs with syscall-stops from its next restart on (ContinueRequest): one stopped
        // now (held in the loader, say) gets them when it goes on; a running one is restarted.
        if (!owner.IsStopped && !owner.IsRunningInjected && Stop(owner.Tid))
        {
            Resume(owner.Tid);
        }
    }

    /// <summary>True if the syscall-stop is the exit of the owner's wake of the mutex: it is parked there.</summary>
    private bool TryParkForHandoff(TracedThread thread, UserRegs regs)
    {
        var isWakeExit = regs.rax != SyscallEntryRax && regs.orig_rax == (ulong)Syscalls.SYS_futex
            && regs.rdi == thread.HandoffMutex && (regs.rsi & Syscalls.FUTEX_CMD_MASK) == Syscalls.FUTEX_WAKE;
        if (!isWakeExit)
        {
            return false;
        }

        thread.HandoffMutex = 0;
        thread.WantStopped = true;
        MarkStopped(thread);
        parkedForHandoff.Add(thread);
        return true;
    }

    /// <summary>When the call of the waiting thread ends, however it ends, whatever it parked goes on.</summary>
    private void EndHandoff(TracedThread injected)
    {
        if (injected == handoffWaiter)
        {
            ReleaseParked();
        }
    }

    private void ReleaseParked()
    {
        foreach (var thread in threads.Values)
        {
            thread.HandoffMutex = 0;
        }

        var parked = parkedForHandoff.ToList();
        parkedForHandoff.Clear();
        handoffWaiter = null;
        handoffMutex = 0;
        foreach (var thread in parked)
        {
            Resume(thread.Tid);
        }
    }

    private int MutexOwner(ulong mutex)
    {
        try
        {
            return BitConverter.ToInt32(Memory.Read(mutex + MutexOwnerOffset, sizeof(int)));
        }
        catch (RemoteMemoryException)
        {
            return 0;
        }
    }
}
