using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>A policy that follows the system calls of some threads (<see cref="Tracee.ObserveSyscalls"/>).</summary>
public interface ISyscallObserver
{
    /// <summary>Whether the thread runs with syscall-stops (PTRACE_SYSCALL rather than PTRACE_CONT) from its next restart on.</summary>
    bool Follows(int tid);

    /// <summary>A syscall-stop, entry or exit, of a thread running the program's own code.</summary>
    void Stopped(ThreadStop stop);

    /// <summary>A syscall-stop of a thread running code Graft put there; the thread always goes on.</summary>
    void StoppedInInjected(int tid, UserRegs regs)
    {
    }

    /// <summary>The code Graft ran on a thread has ended, however it ended.</summary>
    void InjectedEnded(int tid)
    {
    }
}
