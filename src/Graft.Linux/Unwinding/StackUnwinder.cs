using Graft.Elf;
using Graft.Elf.Dwarf;
using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;

namespace Graft.Linux.Unwinding;

/// <summary>
/// Unwinds a stopped thread with the DWARF call-frame information in each object's .eh_frame
/// (signal trampolines and PLT stubs included, both described there by glibc and the linker).
/// The stack is reliable only if every frame was found in unwind tables and the walk ended
/// where the tables say the stack ends (return address undefined: _start, clone3); a zero
/// return address anywhere else is a stack we cannot vouch for.
/// </summary>
public sealed class StackUnwinder(ModuleMap modules, IMemory memory)
{
    private const int MaxFrames = 1024;
    private const int ReturnAddress = 16;
    private const int StackPointer = 7;

    public ThreadStack Unwind(int tid, UserRegs regs) => Walk(tid, RegisterFile.From(regs), regs.rip, InnermostCallSite(regs));

    /// <summary>
    /// The stack of a thread asleep in a system call, from only its pc and stack pointer (what
    /// /proc's syscall file gives): a frame whose rules need another register's value ends the
    /// walk as unreliable.
    /// </summary>
    public ThreadStack UnwindInSystemCall(int tid, ulong pc, ulong sp) =>
        Walk(tid, RegisterFile.FromPcAndStack(pc, sp), pc, AfterSyscallInstruction(pc) ? pc - 2 : pc);

    private ThreadStack Walk(int tid, RegisterFile registers, ulong pc, ulong callSite)
    {
        var top = new StackSnapshot(memory, registers.Get(StackPointer));
        var frames = new List<StackFrame>();
        var exact = true;
        ulong? pcSavedAt = null;
        while (true)
        {
            var module = modules.FindByAddress(pc);
            var frame = new StackFrame(pc, callSite, 0, module, exact, pcSavedAt);
            if (frames.Count == MaxFrames)
            {
                return new ThreadStack(tid, frames, $"more than {MaxFrames} frames");
            }

            if (module is null)
            {
                frames.Add(frame);
                return new ThreadStack(tid, frames, $"0x{pc:x} is not in any mapped object");
            }

            var lookup = frame.CallSite - module.LoadBias;
            var fde = FindFrameDescription(module, lookup);
            if (fde is null && frames.Count == 0 && frame.CallSite != pc)
            {
                // The syscall instruction lies just past its object's unwind information (glibc's
                // clone3 ends it there): the row in force before it still holds, since a
                // syscall instruction changes no stack state.
                fde = FindFrameDescription(module, --lookup);
            }
            if (fde is null)
            {
                frames.Add(frame);
                return new ThreadStack(tid, frames, $"no unwind information for {module.Describe(frame.CallSite)} in {module.FileName}");
            }

            CfiRow row;
            ulong cfa;
            try
            {
                row = fde.ComputeRow(lookup);
                cfa = ComputeCfa(row.Cfa, registers, top);
            }
            catch (Exception e) when (e is ElfFormatException or RemoteMemoryException or UnwindException)
            {
                frames.Add(frame);
                return new ThreadStack(tid, frames, $"cannot unwind {module.Describe(frame.CallSite)}: {e.Message}");
            }

            frames.Add(frame with { Cfa = cfa });
            if (row.GetRule(fde.ReturnAddressRegister) is RegisterRule.UndefinedRule)
            {
                // The tables mark the outermost frame this way: the stack ends here, as expected.
                return new ThreadStack(tid, frames, null);
            }

            RegisterFile caller;
            try
            {
                caller = registers.Unwind(row, cfa, top);
            }
            catch (Exception e) when (e is ElfFormatException or RemoteMemoryException or UnwindException)
            {
                return new ThreadStack(tid, frames, $"cannot restore registers of {module.Describe(frame.CallSite)}: {e.Message}");
            }

            if (!caller.TryGet(fde.ReturnAddressRegister, out var returnAddress))
            {
                return new ThreadStack(tid, frames, $"return address lost at {module.Describe(frame.CallSite)}");
            }

            if (returnAddress == 0)
            {
                return new ThreadStack(tid, frames, $"return address 0 at {module.Describe(frame.CallSite)}, where the unwind tables mark no end of stack");
            }

            if (!caller.TryGet(StackPointer, out var callerStack) || !registers.TryGet(StackPointer, out var stack))
            {
                return new ThreadStack(tid, frames, $"stack pointer lost at {module.Describe(frame.CallSite)}");
            }

            // A frame whose return address sits in a register (glibc's vfork pops it into rdi around its syscall) has
            // not moved the stack pointer; only an exact pc, not a return address, can stand in such a frame.
            var returnAddressInRegister = frame.IsExact && row.GetRule(fde.ReturnAddressRegister) is RegisterRule.Register;
            if (!fde.IsSignalFrame && (callerStack < stack || (callerStack == stack && !returnAddressInRegister)))
            {
                return new ThreadStack(tid, frames, $"stack pointer does not grow at {module.Describe(frame.CallSite)}");
            }

            // After a signal trampoline the next pc is where the signal interrupted the code: exact, not a return address.
            exact = fde.IsSignalFrame;
            pcSavedAt = exact ? registers.SavedAt(row, fde.ReturnAddressRegister, cfa, top) : null;
            pc = returnAddress;
            callSite = exact ? pc : pc - 1;
            registers = caller;
        }
    }

    /// <summary>
    /// A thread stopped inside a system call has its pc after the syscall instruction; the
    /// instruction it is executing is the syscall, and its unwind rules are the ones that hold.
    /// </summary>
    private ulong InnermostCallSite(UserRegs regs) =>
        regs.orig_rax != ulong.MaxValue && AfterSyscallInstruction(regs.rip) ? regs.rip - 2 : regs.rip;

    private bool AfterSyscallInstruction(ulong pc)
    {
        if (pc < 2)
        {
            return false;
        }

        Span<byte> instruction = stackalloc byte[2];
        try
        {
            memory.Read(pc - 2, instruction);
        }
        catch (RemoteMemoryException)
        {
            return false;
        }

        return instruction is [0x0f, 0x05];
    }

    private static FrameDescription? FindFrameDescription(LoadedModule module, ulong lookup)
    {
        try
        {
            return module.Elf.EhFrame?.Find(lookup);
        }
        catch (ElfFormatException)
        {
            return null;
        }
    }

    private static ulong ComputeCfa(CfaRule rule, RegisterFile registers, IMemory stack) => rule switch
    {
        CfaRule.RegisterOffset r => (ulong)((long)registers.Get(r.Register) + r.Offset),
        CfaRule.Expression e => DwarfExpression.Evaluate(e.Bytes.Span, registers.ExpressionContext(stack)),
        _ => throw new UnwindException($"unknown CFA rule {rule}"),
    };
}
