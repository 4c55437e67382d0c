using Graft.Linux.Inspection;

namespace Graft.Linux.Unwinding;

/// <summary>
/// One frame of a thread's stack. <see cref="Pc"/> is the instruction pointer for the innermost
/// frame and for a frame interrupted by a signal; for every other frame it is the return
/// address, so the call site is the instruction before it (<see cref="CallSite"/>).
/// </summary>
public sealed record StackFrame(ulong Pc, ulong Cfa, LoadedModule? Module, bool IsExact)
{
    /// <summary>An address inside the instruction that frame is executing or waiting on.</summary>
    public ulong CallSite => IsExact ? Pc : Pc - 1;

    public override string ToString() => Module is null
        ? $"0x{Pc:x}"
        : $"0x{Pc:x} {Module.Describe(CallSite)}{(IsExact ? "" : "")} ({Module.FileName})";
}
