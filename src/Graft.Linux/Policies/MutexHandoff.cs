using Graft.Linux.Interop;
using Graft.Linux.Tracing;

namespace Graft.Linux.Policies;

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
public sealed class MutexHandoff : ISyscallObserver
{
    // pthread_mutex_t: int __lock (the futex word); unsigned __count; int __owner (a tid).
    private const int MutexOwnerOffset = 8;

    private readonly Tracee tracee;

    // The owner of each mutex a handoff waits for, and that mutex: the owner runs with
    // syscall-stops (Follows) until it is parked or the handoff ends.
    private readonly Dictionary<int, ulong> owners = [];
    private readonly List<int> parked = [];
    private int waiter;
    private ulong mutex;

    private MutexHandoff(Tracee tracee) => this.tracee = tracee;

    /// <summary>Hands contended mutexes over to every call Graft injects into <paramref name="tracee"/> from now on.</summary>
    public static void Install(Tracee tracee) => tracee.ObserveSyscalls(new MutexHandoff(tracee));

    bool ISyscallObserver.Follows(int tid) => owners.GetValueOrDefault(tid) != 0;

    /// <summary>The exit of an owner's wake of the mutex: it is parked there.</summary>
    void ISyscallObserver.Stopped(ThreadStop stop)
    {
        var regs = stop.Registers;
        var isWakeExit = regs.rax != Syscalls.RaxAtEntry && regs.orig_rax == (ulong)Syscalls.SYS_futex
            && regs.rdi == owners.GetValueOrDefault(stop.Tid) && (regs.rsi & Syscalls.FUTEX_CMD_MASK) == Syscalls.FUTEX_WAKE;
        if (!isWakeExit)
        {
            return;
        }

        // Pairs with the owner's unlock, which stores the free value in the futex word before it
        // wakes the waiters: past the wake, the owner holds nothing, and stays so while parked.
        owners.Remove(stop.Tid);
        stop.KeepStopped();
        parked.Add(stop.Tid);
    }

    /// <summary>At each syscall-stop of the thread running Graft's call.</summary>
    void ISyscallObserver.StoppedInInjected(int tid, UserRegs regs)
    {
        // Pairs with the waiter's lock, which writes its tid into __owner once it has the futex
        // word: from then on the parked owners may contend again.
        if (tid == waiter && parked.Count > 0 && MutexOwner(mutex) == tid)
        {
            ReleaseParked();
        }

        var isWaitEntry = regs.rax == Syscalls.RaxAtEntry && regs.orig_rax == (ulong)Syscalls.SYS_futex
            && (regs.rsi & Syscalls.FUTEX_CMD_MASK) == Syscalls.FUTEX_WAIT;
        if (!isWaitEntry)
        {
            return;
        }

        var owner = MutexOwner(regs.rdi);
        if (!tracee.ThreadIds.Contains(owner) || owner == tid || owners.GetValueOrDefault(owner) == regs.rdi)
        {
            return;
        }

        waiter = tid;
        mutex = regs.rdi;
        owners[owner] = regs.rdi;

        // Recorded before the owner is restarted: pairs with the tracee asking Follows at each
        // restart, so it runs with syscall-stops from its next one on. One stopped now (held in
        // the loader, say) gets them when it goes on; a running one is restarted for them.
        if (!tracee.IsStopped(owner) && !tracee.IsRunningInjected(owner) && tracee.Stop(owner, StopKinds.MutexHandoff))
        {
            tracee.Resume(owner);
        }
    }

    /// <summary>When the call of the waiting thread ends, however it ends, whatever it parked goes on.</summary>
    void ISyscallObserver.InjectedEnded(int tid)
    {
        if (tid == waiter)
        {
            ReleaseParked();
        }
    }

    private void ReleaseParked()
    {
        owners.Clear();
        var released = parked.ToList();
        parked.Clear();
        waiter = 0;
        mutex = 0;
        foreach (var tid in released)
        {
            tracee.Resume(tid);
        }
    }

    private int MutexOwner(ulong address)
    {
        try
        {
            return BitConverter.ToInt32(tracee.Memory.Read(address + MutexOwnerOffset, sizeof(int)));
        }
        catch (RemoteMemoryException)
        {
            return 0;
        }
    }
}
