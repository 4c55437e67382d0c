using System.Diagnostics;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Running a system call or a function inside the target on one stopped thread
/// (docs/ARCHITECTURE.md, "Injected syscalls and calls"): <see cref="InjectedCode"/> sets up
/// what runs and puts the thread back; the wait loop here runs the thread and serves the others
/// meanwhile.
/// </summary>
public sealed partial class Tracee
{
    // How often a thread running Graft's code that reports nothing is looked at in /proc.
    private static readonly TimeSpan ExitLookInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Executes one system call on a stopped thread and returns its raw result (a negative errno
    /// on failure). Asynchronous signals are held back meanwhile and arrive afterwards.
    /// </summary>
    public long InjectSyscall(int tid, long number, params ulong[] args) => injected.Syscall(tid, number, args);

    /// <summary>
    /// Calls a function of the target (System V ABI, up to six integer arguments) and returns its
    /// rax. <paramref name="trampoline"/> is where Graft put <see cref="ReturnTrampoline.Code"/>
    /// in the target. A fault inside the call, or the timeout, is reported and the thread put back;
    /// with <paramref name="runsOnIfLate"/>, a call still running at the timeout is left to end on its own.
    /// </summary>
    public ulong InjectCall(int tid, ulong trampoline, ulong function, TimeSpan timeout, bool runsOnIfLate, params ulong[] args) =>
        injected.Call(tid, trampoline, function, timeout, runsOnIfLate, args);

    /// <summary>
    /// Lets the thread run until a fault or trap of its own, or an event <paramref name="isEnd"/>
    /// accepts; null if the timeout came first (the thread is then stopped). Other threads are
    /// served meanwhile.
    /// </summary>
    internal WaitStatus? RunUntilTrap(TracedThread thread, int request, TimeSpan timeout, Func<WaitStatus, bool>? isEnd = null)
    {
        // Graft's code holds the thread, a thread of the program until the agent runs, for as long as it runs: with the
        // program's threads keeping every CPU busy, a dlopen on the main thread of hot took 46 ms, waiting for its share
        // of the CPU, and every stop or trap it made waited for a tracer of ordinary priority too. Raised with the tracer
        // that serves it (Urgency), for the run alone: a call left to end on its own after the timeout runs on as before.
        using var urgent = Urgency.Raise(Urgency.Caller, thread.Tid);
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
        var nextLook = ExitLookInterval;
        while (true)
        {
            if (TryTakeEvent(thread, out var status))
            {
                if (status.Gone || !IsTracked(thread))
                {
                    Retire(thread);
                    throw new TargetGoneException($"process {Pid} exited while graft ran code in thread {thread.Tid}");
                }

                if (TryStepOverTrap(thread, status, request))
                {
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
                continue;
            }

            if (clock.Elapsed > timeout)
            {
                thread.IsRunningInjected = false;
                Stop(thread.Tid, thread.StopPurpose);
                return null;
            }

            if (clock.Elapsed > nextLook)
            {
                // A process killed in a way that leaves its threads zombies graft cannot reap
                // yet (a core dump in progress, a group exit) reports nothing more: look.
                if (events.NoneTraced || IsExiting(thread.Tid))
                {
                    Forget(thread);
                    throw new TargetGoneException($"process {Pid} exited or was killed while graft ran code in thread {thread.Tid}");
                }

                nextLook += ExitLookInterval;
            }

            if (!ServeRunning())
            {
                var untilTimeout = timeout - clock.Elapsed;
                var untilLook = nextLook - clock.Elapsed;
                events.Await(untilTimeout < untilLook ? untilTimeout : untilLook);
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
            // Only a signal sent by someone (kill, sigqueue) gets here: pass it on, noted if it ends the process.
            if (status.IsSignalDeliveryStop)
            {
                death.NoteIfFatal(thread, status.StopSignal);
            }

            Restart(thread, request, status.IsSignalDeliveryStop ? status.StopSignal : 0);
        }
    }

    /// <summary>A trap or fault raised by the thread's own execution (si_code &gt; 0), not a signal sent to it.</summary>
    private static bool IsFault(int tid, int signal)
    {
        if ((InjectedCode.SynchronousSignals & (1UL << (signal - 1))) == 0)
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

    /// <summary>
    /// At the entry of rt_sigreturn, with Graft still there: skips the syscall and stops the
    /// thread on its way back to user space instead, inside the kernel's signal path. Putting
    /// its registers back there lets the kernel restart an interrupted syscall the normal way;
    /// rt_sigreturn would have cancelled a pending restart block (nanosleep, poll) with EINTR.
    /// </summary>
    internal ulong ReturnFromCall(TracedThread thread)
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
}
