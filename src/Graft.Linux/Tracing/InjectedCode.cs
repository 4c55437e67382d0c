using Graft.Linux.Inspection;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Running a system call or a function inside the target on one stopped thread, then putting
/// the thread back exactly as it was (docs/ARCHITECTURE.md, "Injected syscalls and calls"). What
/// runs, and the signal frame a call returns through, are set up here; the thread is run by
/// <paramref name="tracee"/>'s wait loop, which serves the other threads meanwhile.
/// </summary>
internal sealed class InjectedCode(Tracee tracee, ThreadRegisters registers)
{
    // Faults stay unblocked while Graft runs code on a thread: the kernel resets the handler of
    // a blocked synchronous signal to SIG_DFL when it forces one, which would change the program.
    public const ulong SynchronousSignals =
        (1UL << (Signals.SIGILL - 1)) | (1UL << (Signals.SIGTRAP - 1)) | (1UL << (Signals.SIGBUS - 1))
        | (1UL << (Signals.SIGFPE - 1)) | (1UL << (Signals.SIGSEGV - 1));

    /// <summary>
    /// What a thread Graft creates for itself (the agent) blocks: every signal but the faults,
    /// glibc's SIGCANCEL (32) and SIGSETXID (33), which setuid() and its kin send to every thread
    /// and wait for, and SIGKILL and SIGSTOP, which nothing blocks.
    /// </summary>
    public const ulong AgentSignalMask = ~SynchronousSignals
        & ~((1UL << (Signals.SIGKILL - 1)) | (1UL << (Signals.SIGSTOP - 1)) | (1UL << 31) | (1UL << 32));

    private const int RedZone = 128;
    private const int StackTSize = 24;

    private ulong syscallInstruction;

    /// <summary>
    /// Executes one system call on a stopped thread and returns its raw result (a negative errno
    /// on failure). Asynchronous signals are held back meanwhile and arrive afterwards.
    /// </summary>
    public long Syscall(int tid, long number, params ulong[] args)
    {
        var site = FindSyscallInstruction();
        return (long)SingleStep(tid, TimeSpan.FromSeconds(10), regs =>
        {
            regs.rax = (ulong)number;
            SetArguments(ref regs, args, syscallConvention: true);
            regs.rip = site;
            return regs;
        }, done => done.rip == site + 2);
    }

    /// <summary>
    /// Calls a function of the target (System V ABI, up to six integer arguments) and returns its
    /// rax. The call returns to a trampoline that calls rt_sigreturn on a signal frame Graft built
    /// below the thread's red zone. Graft, when there, stops the thread at that syscall and puts
    /// its state back itself; a Graft that died during the call leaves the thread to
    /// rt_sigreturn, which restores registers, vector state and signal mask, with an interrupted
    /// system call set up to restart (one that had a restart block, such as nanosleep, then
    /// returns EINTR: rt_sigreturn cancels restart blocks).
    /// </summary>
    /// <param name="runsOnIfLate">
    /// Past <paramref name="timeout"/>, leave the call running rather than put the thread back:
    /// for a call that takes a lock of the program's (the loader's), which a thread put back in
    /// the middle would hold for ever.
    /// </param>
    public ulong Call(int tid, ulong trampoline, ulong function, TimeSpan timeout, bool runsOnIfLate, params ulong[] args)
    {
        var thread = tracee.Get(tid);
        tracee.RequireStopped(tid);

        // The thread runs Graft's code, not its own: its stop goes on through the call (StopStatistics).
        var goesOn = thread.StopGoesOn;
        thread.StopGoesOn = true;
        try
        {
            return Call(thread, trampoline, function, timeout, runsOnIfLate, args);
        }
        finally
        {
            thread.StopGoesOn = goesOn;
        }
    }

    private ulong Call(TracedThread thread, ulong trampoline, ulong function, TimeSpan timeout, bool runsOnIfLate, ulong[] args)
    {
        var tid = thread.Tid;
        var saved = tracee.GetRegisters(tid);
        var savedState = tracee.GetExtendedState(tid);
        var savedMask = tracee.GetSignalMask(tid);

        // Below the red zone, from the top: the fpstate (64-byte aligned, as XRSTOR wants), then
        // the frame, placed so that its first word is the return address of the call and rsp+8
        // is 16-byte aligned at the function's entry.
        var fpstate = XSaveArea.ToSignalFrameState(savedState);
        var fpstateAddress = (saved.rsp - RedZone - (ulong)fpstate.Length) & ~63UL;
        var frameAddress = ((fpstateAddress - SignalFrame.Size) & ~15UL) - 8;
        var frame = SignalFrame.Build(trampoline, saved, savedMask, AltStack(tid, frameAddress - 64), fpstateAddress);
        tracee.Memory.Write(fpstateAddress, fpstate);
        tracee.Memory.Write(frameAddress, frame);

        var call = saved;
        call.rsp = frameAddress;
        call.rax = 0;
        call.rip = function;
        call.orig_rax = ulong.MaxValue;
        SetArguments(ref call, args, syscallConvention: false);
        tracee.SetSignalMask(tid, ~SynchronousSignals);
        tracee.SetRegisters(tid, call);

        var end = tracee.RunUntilTrap(thread, Ptrace.PTRACE_SYSCALL, timeout, status =>
            status.IsSyscallStop
            && registers.Read(tid) is var regs
            && regs.orig_rax == Syscalls.SYS_rt_sigreturn
            && regs.rip == trampoline + ReturnTrampoline.AfterSyscall);
        if (end is null && runsOnIfLate)
        {
            // Stopped where it got to, with every asynchronous signal still held back: resumed,
            // it ends the call, and rt_sigreturn on the frame built above puts back its registers,
            // vector state and signal mask.
            throw new InjectionException(
                $"code run inside process {tracee.Pid} by graft did not finish within {timeout.TotalSeconds:0.#} s; it runs on in thread {tid}, which returns to where it was when the call ends",
                timedOut: true, runsOn: true);
        }

        if (end is not { IsSyscallStop: true })
        {
            var at = tracee.GetRegisters(tid);
            PutBack(tid, CutShort(saved, at), savedState, savedMask);
            throw Failure(end, at, timeout);
        }

        var result = tracee.ReturnFromCall(thread);
        PutBack(tid, saved, savedState, savedMask);
        return result;
    }

    /// <summary>
    /// The registers to put back after a call cut short in a system call of its own that the
    /// kernel restarts from the thread's restart block (nanosleep, poll: -ERESTART_RESTARTBLOCK).
    /// That block then holds the cut call's arguments and remaining time, and a thread itself
    /// interrupted that way would restart with them (seen: the program slept the rest of a
    /// callback's 60 s sleep; a poll would wait on the callback's descriptors). Such a thread
    /// restarts its own call from its registers instead, as <see cref="SyscallRestarts"/> does
    /// for EINTR (its relative timeout starts over); one already in restart_syscall, whose
    /// registers no longer say which call it restarts, gets EINTR, as a signal with a handler
    /// would have given it, with its remaining time written where the call writes it.
    /// </summary>
    private static UserRegs CutShort(UserRegs saved, UserRegs at)
    {
        var restartBlock = unchecked((ulong)-Errno.ERESTART_RESTARTBLOCK);
        if ((long)at.orig_rax >= 0 && at.rax == restartBlock && (long)saved.orig_rax >= 0 && saved.rax == restartBlock)
        {
            saved.rax = unchecked((ulong)-(saved.orig_rax == Syscalls.SYS_restart_syscall ? Errno.EINTR : Errno.ERESTARTNOHAND));
        }

        return saved;
    }

    /// <summary>Runs one instruction on a stopped thread with the registers <paramref name="prepare"/> gives, then puts the thread back.</summary>
    private ulong SingleStep(int tid, TimeSpan timeout, Func<UserRegs, UserRegs> prepare, Func<UserRegs, bool> isFinished)
    {
        var thread = tracee.Get(tid);
        tracee.RequireStopped(tid);
        var saved = tracee.GetRegisters(tid);
        var savedState = tracee.GetExtendedState(tid);
        var savedMask = tracee.GetSignalMask(tid);

        // As in Call: the stop goes on through the instruction Graft runs.
        var goesOn = thread.StopGoesOn;
        thread.StopGoesOn = true;
        try
        {
            tracee.SetSignalMask(tid, ~SynchronousSignals);
            var regs = prepare(saved);

            // orig_rax = -1: if the thread was stopped inside a system call, the kernel must not
            // apply its restart logic to our registers; it applies it to the saved ones later.
            regs.orig_rax = ulong.MaxValue;
            tracee.SetRegisters(tid, regs);
            var end = tracee.RunUntilTrap(thread, Ptrace.PTRACE_SINGLESTEP, timeout);
            var after = tracee.GetRegisters(tid);
            return isFinished(after) ? after.rax : throw Failure(end, after, timeout);
        }
        finally
        {
            thread.StopGoesOn = goesOn;
            PutBack(tid, saved, savedState, savedMask);
        }
    }

    /// <summary>Restores a thread's registers, extended state and signal mask, if it still exists.</summary>
    private void PutBack(int tid, UserRegs regs, byte[] extendedState, ulong signalMask)
    {
        if (tracee.IsTraced(tid))
        {
            tracee.SetRegisters(tid, regs);
            tracee.SetExtendedState(tid, extendedState);
            tracee.SetSignalMask(tid, signalMask);
        }
    }

    private InjectionException Failure(WaitStatus? end, UserRegs at, TimeSpan timeout) => end is { } status
        ? new($"code run inside process {tracee.Pid} by graft stopped with signal {status.StopSignal} at 0x{at.rip:x}; the thread was restored")
        : new($"code run inside process {tracee.Pid} by graft did not finish within {timeout.TotalSeconds:0.#} s; the thread was restored", timedOut: true);

    /// <summary>The thread's sigaltstack (a stack_t): rt_sigreturn sets it again from the frame.</summary>
    private byte[] AltStack(int tid, ulong scratch)
    {
        var result = Syscall(tid, Syscalls.SYS_sigaltstack, 0, scratch);
        return result == 0
            ? tracee.Memory.Read(scratch, StackTSize)
            : throw new InjectionException($"sigaltstack inside process {tracee.Pid} failed with errno {-result}");
    }

    private static void SetArguments(ref UserRegs regs, ulong[] args, bool syscallConvention)
    {
        if (args.Length > 6)
        {
            throw new ArgumentException("at most six arguments can be passed in registers", nameof(args));
        }

        for (var i = 0; i < args.Length; i++)
        {
            switch (i)
            {
                case 0: regs.rdi = args[i]; break;
                case 1: regs.rsi = args[i]; break;
                case 2: regs.rdx = args[i]; break;
                case 3: if (syscallConvention) { regs.r10 = args[i]; } else { regs.rcx = args[i]; } break;
                case 4: regs.r8 = args[i]; break;
                case 5: regs.r9 = args[i]; break;
            }
        }
    }

    /// <summary>Any `syscall` instruction (0F 05) in the target's code will do; we execute just that one.</summary>
    private ulong FindSyscallInstruction()
    {
        if (syscallInstruction != 0)
        {
            return syscallInstruction;
        }

        var candidates = ProcessMaps.Read(tracee.Pid)
            .Where(m => m.IsExecutable && m.IsReadable)
            .OrderByDescending(m => m.Path.Contains("/libc.so", StringComparison.Ordinal) || m.Path == "[vdso]");
        foreach (var mapping in candidates)
        {
            for (var chunk = mapping.Start; chunk < mapping.End; chunk += 0x10000)
            {
                var length = (int)Math.Min(0x10001, mapping.End - chunk);
                byte[] bytes;
                try
                {
                    bytes = tracee.Memory.Read(chunk, length);
                }
                catch (RemoteMemoryException)
                {
                    break;
                }

                var at = bytes.AsSpan().IndexOf([(byte)0x0f, (byte)0x05]);
                if (at >= 0)
                {
                    return syscallInstruction = chunk + (ulong)at;
                }
            }
        }

        throw new InjectionException($"no syscall instruction found in the code of process {tracee.Pid}");
    }
}
