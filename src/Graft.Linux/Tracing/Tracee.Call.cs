using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Calling a function inside the target on one stopped thread. The call returns to a trampoline
/// that calls rt_sigreturn on a signal frame Graft built below the thread's red zone. Graft, when
/// there, stops the thread at that syscall and puts its state back itself; a Graft that died
/// during the call leaves the thread to rt_sigreturn, which restores registers, vector state and
/// signal mask, with an interrupted system call set up to restart (one that had a restart block,
/// such as nanosleep, then returns EINTR: rt_sigreturn cancels restart blocks).
/// </summary>
public sealed partial class Tracee
{
    private const int StackTSize = 24;

    /// <summary>
    /// Calls a function of the target (System V ABI, up to six integer arguments) and returns its
    /// rax. <paramref name="trampoline"/> is where Graft put <see cref="ReturnTrampoline.Code"/>
    /// in the target. A fault inside the call, or the timeout, is reported and the thread put back.
    /// </summary>
    public ulong InjectCall(int tid, ulong trampoline, ulong function, TimeSpan timeout, params ulong[] args)
    {
        var thread = Get(tid);
        RequireStopped(tid);
        var saved = GetRegisters(tid);
        var savedState = GetExtendedState(tid);
        var savedMask = GetSignalMask(tid);

        // Below the red zone, from the top: the fpstate (64-byte aligned, as XRSTOR wants), then
        // the frame, placed so that its first word is the return address of the call and rsp+8
        // is 16-byte aligned at the function's entry.
        var fpstate = XSaveArea.ToSignalFrameState(savedState);
        var fpstateAddress = (saved.rsp - RedZone - (ulong)fpstate.Length) & ~63UL;
        var frameAddress = ((fpstateAddress - SignalFrame.Size) & ~15UL) - 8;
        var frame = SignalFrame.Build(trampoline, saved, savedMask, AltStack(tid, frameAddress - 64), fpstateAddress);
        Memory.Write(fpstateAddress, fpstate);
        Memory.Write(frameAddress, frame);

        var call = saved;
        call.rsp = frameAddress;
        call.rax = 0;
        call.rip = function;
        call.orig_rax = ulong.MaxValue;
        SetArguments(ref call, args, syscallConvention: false);
        SetSignalMask(tid, ~SynchronousSignals);
        SetRegisters(tid, call);

        var end = RunUntilTrap(thread, Ptrace.PTRACE_SYSCALL, timeout, status =>
            status.IsSyscallStop
            && registers.Read(tid) is var regs
            && regs.orig_rax == Syscalls.SYS_rt_sigreturn
            && regs.rip == trampoline + ReturnTrampoline.AfterSyscall);
        if (end is not { IsSyscallStop: true })
        {
            var at = GetRegisters(tid);
            PutBack(tid, saved, savedState, savedMask);
            throw Failure(end, at, timeout);
        }

        var result = ReturnFromCall(thread);
        PutBack(tid, saved, savedState, savedMask);
        return result;
    }

    /// <summary>
    /// At the entry of rt_sigreturn, with Graft still there: skips the syscall and stops the
    /// thread on its way back to user space instead, inside the kernel's signal path. Putting
    /// its registers back there lets the kernel restart an interrupted syscall the normal way;
    /// rt_sigreturn would have cancelled a pending restart block (nanosleep, poll) with EINTR.
    /// </summary>
    private ulong ReturnFromCall(TracedThread thread)
    {
        var regs = registers.Read(thread.Tid);
        var result = regs.rdi;
        regs.orig_rax = ulong.MaxValue;
        SetRegisters(thread.Tid, regs);
        thread.IsStopped = false;
        if (!RequestStop(thread))
        {
            throw new TargetGoneException($"thread {thread.Tid} of process {Pid} exited after a call graft made on it");
        }

        Restart(thread, Ptrace.PTRACE_CONT, 0);
        return AwaitStop(thread)
            ? result
            : throw new TargetGoneException($"thread {thread.Tid} of process {Pid} exited after a call graft made on it");
    }

    /// <summary>The thread's sigaltstack (a stack_t): rt_sigreturn sets it again from the frame.</summary>
    private byte[] AltStack(int tid, ulong scratch)
    {
        var result = InjectSyscall(tid, Syscalls.SYS_sigaltstack, 0, scratch);
        return result == 0
            ? Memory.Read(scratch, StackTSize)
            : throw new InjectionException($"sigaltstack inside process {Pid} failed with errno {-result}");
    }
}
