using System.Diagnostics;
using Graft.Linux.Inspection;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Running a system call or a function inside the target on one stopped thread, then putting
/// the thread back exactly as it was (docs/ARCHITECTURE.md, "Injected syscalls and calls").
/// </summary>
public sealed partial class Tracee
{
    private const int RedZone = 128;

    // Faults stay unblocked while Graft runs code on a thread: the kernel resets the handler of
    // a blocked synchronous signal to SIG_DFL when it forces one, which would change the program.
    private const ulong SynchronousSignals =
        (1UL << (Signals.SIGILL - 1)) | (1UL << (Signals.SIGTRAP - 1)) | (1UL << (Signals.SIGBUS - 1))
        | (1UL << (Signals.SIGFPE - 1)) | (1UL << (Signals.SIGSEGV - 1));

    private ulong syscallInstruction;

    /// <summary>
    /// Executes one system call on a stopped thread and returns its raw result (a negative errno
    /// on failure). Asynchronous signals are held back meanwhile and arrive afterwards.
    /// </summary>
    public long InjectSyscall(int tid, long number, params ulong[] args)
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

    /// <summary>Runs one instruction on a stopped thread with the registers <paramref name="prepare"/> gives, then puts the thread back.</summary>
    private ulong SingleStep(int tid, TimeSpan timeout, Func<UserRegs, UserRegs> prepare, Func<UserRegs, bool> isFinished)
    {
        var thread = Get(tid);
        RequireStopped(tid);
        var saved = GetRegisters(tid);
        var savedState = GetExtendedState(tid);
        var savedMask = GetSignalMask(tid);
        try
        {
            SetSignalMask(tid, ~SynchronousSignals);
            var regs = prepare(saved);

            // orig_rax = -1: if the thread was stopped inside a system call, the kernel must not
            // apply its restart logic to our registers; it applies it to the saved ones later.
            regs.orig_rax = ulong.MaxValue;
            SetRegisters(tid, regs);
            var end = RunUntilTrap(thread, Ptrace.PTRACE_SINGLESTEP, timeout);
            var after = GetRegisters(tid);
            return isFinished(after) ? after.rax : throw Failure(end, after, timeout);
        }
        finally
        {
            PutBack(tid, saved, savedState, savedMask);
        }
    }

    /// <summary>Restores a thread's registers, extended state and signal mask, if it still exists.</summary>
    private void PutBack(int tid, UserRegs regs, byte[] extendedState, ulong signalMask)
    {
        if (threads.ContainsKey(tid))
        {
            SetRegisters(tid, regs);
            SetExtendedState(tid, extendedState);
            SetSignalMask(tid, signalMask);
        }
    }

    private InjectionException Failure(WaitStatus? end, UserRegs at, TimeSpan timeout) => new(end is { } status
        ? $"code run inside process {Pid} by graft stopped with signal {status.StopSignal} at 0x{at.rip:x}; the thread was restored"
        : $"code run inside process {Pid} by graft did not finish within {timeout.TotalSeconds:0.#} s; the thread was restored");

    /// <summary>
    /// Lets the thread run until a fault or trap of its own, or an event <paramref name="isEnd"/>
    /// accepts; null if the timeout came first (the thread is then stopped). Other threads are
    /// served meanwhile.
    /// </summary>
    private WaitStatus? RunUntilTrap(TracedThread thread, int request, TimeSpan timeout, Func<WaitStatus, bool>? isEnd = null)
    {
        thread.IsStopped = false;
        thread.IsRunningInjected = true;
        try
        {
            Restart(thread, request, 0);
            return AwaitTrap(thread, request, timeout, isEnd ?? (_ => false));
        }
        finally
        {
            thread.IsRunningInjected = false;
            EndInjected(thread);
        }
    }

    private WaitStatus? AwaitTrap(TracedThread thread, int request, TimeSpan timeout, Func<WaitStatus, bool> isEnd)
    {
        var clock = Stopwatch.StartNew();
        for (var idle = 0; ; idle++)
        {
            if (WaitFor(thread, block: false) is { } status)
            {
                if (status.Gone || !threads.ContainsKey(thread.Tid))
                {
                    threads.Remove(thread.Tid);
                    throw new TargetGoneException($"process {Pid} exited while graft ran code in thread {thread.Tid}");
                }

                if (TryStepOverTrap(thread, status, request))
                {
                    idle = 0;
                    continue;
                }

                if (isEnd(status) || (status.IsSignalDeliveryStop && IsFault(thread.Tid, status.StopSignal)))
                {
                    thread.IsStopped = true;
                    return status;
                }

                if (status.IsSyscallStop)
                {
                    ObserveInjectedSyscall(thread);
                }

                ContinueInjected(thread, status, request);
                idle = 0;
                continue;
            }

            if (PollRunning())
            {
                idle = 0;
            }
            else if (clock.Elapsed > timeout)
            {
                thread.IsRunningInjected = false;
                Stop(thread.Tid);
                return null;
            }
            else if (idle > 200)
            {
                // A process killed in a way that leaves its threads zombies graft cannot reap
                // yet (a core dump in progress, a group exit) reports nothing more: look.
                if (idle % 100 == 0 && IsExiting(thread.Tid))
                {
                    threads.Remove(thread.Tid);
                    throw new TargetGoneException($"process {Pid} exited or was killed while graft ran code in thread {thread.Tid}");
                }

                Thread.Sleep(1);
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    private void ContinueInjected(TracedThread thread, WaitStatus status, int request)
    {
        if (status.IsCloneEvent)
        {
            AdoptClone(thread);
            Restart(thread, request, 0);
        }
        else if (status.IsEventStop)
        {
            // A surplus interrupt: the code Graft runs must not see EINTR for it either.
            thread.StopEventPending = false;
            SyscallRestarts.RestartInterruptedCall(registers, thread, status);
            Restart(thread, request, 0);
        }
        else
        {
            // Only a signal sent by someone (kill, sigqueue) gets here: pass it on.
            Restart(thread, request, status.IsSignalDeliveryStop ? status.StopSignal : 0);
        }
    }

    /// <summary>A trap or fault raised by the thread's own execution (si_code &gt; 0), not a signal sent to it.</summary>
    private static bool IsFault(int tid, int signal)
    {
        if ((SynchronousSignals & (1UL << (signal - 1))) == 0)
        {
            return false;
        }

        return SignalCode(tid) > 0;
    }

    /// <summary>The si_code of the signal a thread in signal-delivery-stop is about to take; 0 if it cannot be read.</summary>
    private static unsafe int SignalCode(int tid)
    {
        // siginfo_t is 128 bytes; si_code is its third int.
        var info = stackalloc int[32];
        return Ptrace.ptrace(Ptrace.PTRACE_GETSIGINFO, tid, 0, (nint)info) == 0 ? info[2] : 0;
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

        var candidates = ProcessMaps.Read(Pid)
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
                    bytes = Memory.Read(chunk, length);
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

        throw new InjectionException($"no syscall instruction found in the code of process {Pid}");
    }
}
