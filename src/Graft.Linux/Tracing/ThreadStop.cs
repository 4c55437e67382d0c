using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// A stop of a thread running the program's own code (a trap on an int3 registered with
/// <see cref="Tracee.HandleTrapsAt(ulong, ITrapHandler)"/>, a syscall-stop) handed to a policy
/// before the tracee decides what becomes of the thread. Unless the policy holds it or keeps it
/// stopped, the thread goes on from its registers as they are when the policy returns.
/// </summary>
public sealed class ThreadStop
{
    private readonly Tracee tracee;
    private readonly TracedThread thread;

    internal ThreadStop(Tracee tracee, TracedThread thread, UserRegs registers)
    {
        this.tracee = tracee;
        this.thread = thread;
        Registers = registers;
    }

    public int Tid => thread.Tid;

    /// <summary>The registers as read at the stop.</summary>
    public UserRegs Registers { get; }

    /// <summary>Whether the thread stays stopped (<see cref="Hold"/>, <see cref="KeepStopped"/>) rather than going on.</summary>
    internal bool IsKept { get; private set; }

    public void SetRegisters(UserRegs regs) => tracee.WriteRegistersInStop(thread, regs);

    /// <summary>
    /// The thread stays stopped until the policy lets it go with <see cref="Tracee.Release"/>;
    /// <see cref="Tracee.Resume"/> only says that its caller is done with it.
    /// </summary>
    public void Hold()
    {
        tracee.Hold(thread);
        IsKept = true;
    }

    /// <summary>The thread stays stopped as if Graft had stopped it: the next <see cref="Tracee.Resume"/> lets it go.</summary>
    public void KeepStopped()
    {
        tracee.KeepStopped(thread);
        IsKept = true;
    }
}
