using Graft.Linux.Inspection;

namespace Graft.Linux.Unwinding;

/// <summary>
/// One frame of a thread's stack. <see cref="Pc"/> is the instruction pointer for the innermost
/// frame and for a frame interrupted by a signal; for every other frame it is the return
/// address. <see cref="CallSite"/> is an address inside the instruction the frame is executing
/// or waiting on: the call before a return address, or the syscall a stopped thread sits in.
/// For a frame interrupted by a signal, <see cref="PcSavedAt"/> is where its signal frame keeps
/// the pc, which rt_sigreturn puts back.
/// </summary>
public sealed record StackFrame(ulong Pc, ulong CallSite, ulong Cfa, LoadedModule? Module, bool IsExact, ulong? PcSavedAt = null)
{
    public override string ToString() => Module is null
        ? $"0x{Pc:x}"
        : $"0x{Pc:x} {Module.Describe(CallSite)} ({Module.FileName})";
}
