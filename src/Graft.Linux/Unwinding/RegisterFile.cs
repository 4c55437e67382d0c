using Graft.Elf.Dwarf;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;

namespace Graft.Linux.Unwinding;

/// <summary>The DWARF-numbered registers (0..16) known in one frame; a register the rules leave undefined is unknown.</summary>
internal sealed class RegisterFile
{
    private const int Count = 17;
    private readonly ulong?[] values = new ulong?[Count];

    public static RegisterFile From(UserRegs r)
    {
        var file = new RegisterFile();
        ulong[] ordered = [r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip];
        for (var i = 0; i < Count; i++)
        {
            file.values[i] = ordered[i];
        }

        return file;
    }

    /// <summary>Only the pc and the stack pointer known: every other register is unknown.</summary>
    public static RegisterFile FromPcAndStack(ulong pc, ulong sp)
    {
        var file = new RegisterFile();
        file.values[7] = sp;
        file.values[16] = pc;
        return file;
    }

    public bool TryGet(int register, out ulong value)
    {
        value = register is >= 0 and < Count && values[register] is { } known ? known : 0;
        return register is >= 0 and < Count && values[register].HasValue;
    }

    public ulong Get(int register) => TryGet(register, out var value)
        ? value
        : throw new UnwindException($"register {register} is not known in this frame");

    /// <summary>The caller's registers, by the rules of this frame's CFI row.</summary>
    public RegisterFile Unwind(CfiRow row, ulong cfa, IMemory memory)
    {
        var caller = new RegisterFile();
        var context = ExpressionContext(memory);
        for (var register = 0; register < Count; register++)
        {
            caller.values[register] = row.GetRule(register) switch
            {
                RegisterRule.UndefinedRule => null,
                RegisterRule.SameValueRule => values[register],
                RegisterRule.Offset o => memory.ReadUInt64((ulong)((long)cfa + o.CfaOffset)),
                RegisterRule.ValOffset v => (ulong)((long)cfa + v.CfaOffset),
                RegisterRule.Register r => Get(r.DwarfRegister),
                RegisterRule.Expression e => memory.ReadUInt64(DwarfExpression.Evaluate(e.Bytes.Span, context, cfa)),
                RegisterRule.ValExpression v => DwarfExpression.Evaluate(v.Bytes.Span, context, cfa),
                var unknown => throw new UnwindException($"unknown register rule {unknown}"),
            };
        }

        // The CFA is by definition the caller's stack pointer, whatever the table says of rsp.
        if (row.GetRule(7) is RegisterRule.SameValueRule)
        {
            caller.values[7] = cfa;
        }

        return caller;
    }

    /// <summary>Where the caller's value of the register is kept in memory, by this frame's rule; null if it is not kept in memory.</summary>
    public ulong? SavedAt(CfiRow row, int register, ulong cfa, IMemory memory) => row.GetRule(register) switch
    {
        RegisterRule.Offset o => (ulong)((long)cfa + o.CfaOffset),
        RegisterRule.Expression e => DwarfExpression.Evaluate(e.Bytes.Span, ExpressionContext(memory), cfa),
        _ => null,
    };

    public IDwarfExpressionContext ExpressionContext(IMemory memory) => new Context(this, memory);

    private sealed class Context(RegisterFile registers, IMemory memory) : IDwarfExpressionContext
    {
        public ulong ReadRegister(int dwarfRegister) => registers.Get(dwarfRegister);

        public ulong ReadMemory(ulong address) => memory.ReadUInt64(address);
    }
}
