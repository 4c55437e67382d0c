using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>What one waitpid status says happened to a traced thread (see ptrace(2), "Stopped states").</summary>
internal readonly record struct WaitStatus(int Raw)
{
    public bool Exited => (Raw & 0x7f) == 0;

    public bool Killed => (Raw & 0x7f) != 0 && (Raw & 0x7f) != 0x7f;

    public bool Gone => Exited || Killed;

    public int TerminatingSignal => Raw & 0x7f;

    public bool Stopped => (Raw & 0xff) == 0x7f;

    public int StopSignal => (Raw >> 8) & 0xff;

    public int Event => (Raw >> 16) & 0xff;

    /// <summary>A PTRACE_EVENT_STOP: our PTRACE_INTERRUPT, a new clone's first stop, or a group-stop.</summary>
    public bool IsEventStop => Stopped && Event == Ptrace.PTRACE_EVENT_STOP;

    /// <summary>An event-stop whose signal is a stop signal: the whole process is job-control stopped.</summary>
    public bool IsGroupStop => IsEventStop && StopSignal is Signals.SIGSTOP or Signals.SIGTSTP or Signals.SIGTTIN or Signals.SIGTTOU;

    public bool IsCloneEvent => Stopped && Event == Ptrace.PTRACE_EVENT_CLONE;

    public bool IsForkEvent => Stopped && Event == Ptrace.PTRACE_EVENT_FORK;

    public bool IsVforkEvent => Stopped && Event == Ptrace.PTRACE_EVENT_VFORK;

    public bool IsExecEvent => Stopped && Event == Ptrace.PTRACE_EVENT_EXEC;

    /// <summary>A syscall-enter or syscall-exit stop after PTRACE_SYSCALL (marked by PTRACE_O_TRACESYSGOOD).</summary>
    public bool IsSyscallStop => Stopped && Event == 0 && StopSignal == (Signals.SIGTRAP | 0x80);

    /// <summary>A signal on its way to the thread; it is lost unless the tracer passes it on.</summary>
    public bool IsSignalDeliveryStop => Stopped && Event == 0 && !IsSyscallStop;

    public override string ToString() =>
        Exited ? $"exited({(Raw >> 8) & 0xff})"
        : Killed ? $"killed by signal {Raw & 0x7f}"
        : Event != 0 ? $"event {Event} (signal {StopSignal})"
        : $"signal {StopSignal}";
}
