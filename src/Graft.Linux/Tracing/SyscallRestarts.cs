using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// System calls that Graft's own stops interrupt. A thread blocked in a call wakes up for the
/// interrupt as for a signal; most calls then ask the kernel to restart them (-ERESTART*), which
/// it does once the tracer lets the thread go and no handler runs. A few fail with EINTR
/// outright even for a stop (signal(7), "Interruption of system calls ... by a stop signal"):
/// epoll_wait, epoll_pwait, epoll_pwait2, rt_sigtimedwait, semtimedop, io_getevents... An event
/// loop that takes EINTR there for an error would die of being patched.
/// </summary>
internal static class SyscallRestarts
{
    private static readonly ulong Interrupted = unchecked((ulong)-Errno.EINTR);
    private static readonly ulong RestartUnlessHandled = unchecked((ulong)-Errno.ERESTARTNOHAND);

    /// <summary>
    /// At an event-stop Graft caused (its PTRACE_INTERRUPT, wanted or surplus; not a group-stop,
    /// whose EINTR the program gets without Graft too): a system call that failed with EINTR is
    /// made to end with -ERESTARTNOHAND instead, as if it were one of the calls the kernel
    /// restarts. The thread is still in the kernel's signal path (the stop is in get_signal), so
    /// the kernel itself then decides, once Graft resumes the thread: if a signal with a handler
    /// came meanwhile (and the EINTR was also its doing), the handler runs and the call fails
    /// with EINTR as it would have without Graft; otherwise the call runs again (rax = orig_rax,
    /// rip back onto the `syscall` instruction). Its relative timeout then starts over in full:
    /// unlike select, poll and nanosleep, which the kernel restarts with the time that remained,
    /// these calls keep no record of it to restart from.
    /// Must come before any code Graft runs on the thread saves its registers: those are put
    /// back afterwards, and the frame of an injected call restarts the call from them
    /// (<see cref="SignalFrame"/>).
    /// </summary>
    public static void RestartInterruptedCall(ThreadRegisters registers, TracedThread thread, WaitStatus status)
    {
        if (status.IsGroupStop)
        {
            return;
        }

        var regs = registers.Read(thread.Tid);
        if ((long)regs.orig_rax < 0 || regs.rax != Interrupted)
        {
            // Not in a system call (orig_rax is -1 then), or one that did not fail with EINTR.
            return;
        }

        // restart_syscall runs whatever the thread's restart block holds when it runs, which need not be the call the
        // thread made: Graft itself gives EINTR to a thread put back in restart_syscall after a call it ran there used
        // that block (InjectedCode.CutShort), and restarting it ran the rest of a callback's 60 s sleep instead of the
        // program's 20 ms one (1 timed-out callback in 8). EINTR is what a signal with a handler gives there too.
        if ((long)regs.orig_rax == Syscalls.SYS_restart_syscall)
        {
            return;
        }

        regs.rax = RestartUnlessHandled;
        registers.Write(thread.Tid, regs);
    }
}
