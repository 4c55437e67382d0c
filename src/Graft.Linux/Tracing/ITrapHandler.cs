using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>What becomes of a thread that executed an int3 a policy put at an address (<see cref="Tracee.HandleTrapsAt(ulong, ITrapHandler)"/>).</summary>
public interface ITrapHandler
{
    /// <summary>A thread running the program's code trapped there; its rip is one past the int3.</summary>
    void Trapped(ThreadStop stop);

    /// <summary>
    /// Code Graft runs on a thread (an injected call) trapped there: the thread is Graft's to
    /// finish, so it goes on, from the registers returned.
    /// </summary>
    UserRegs SteppedOver(UserRegs regs);
}
