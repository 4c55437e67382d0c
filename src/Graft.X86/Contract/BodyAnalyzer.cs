using Graft.X86.Internal;

using Iced.Intel;

namespace Graft.X86.Contract;

/// <summary>
/// Reads what a body of code does to the registers and stack its callers see (<see cref="BodyEffects"/>), the way
/// gcc's -fipa-ra counts a function's clobbers: a register is changed if any instruction writes it.
/// </summary>
public static class BodyAnalyzer
{
    private static readonly InstructionInfoFactory InfoFactory = new();

    public static BodyEffects Analyze(ReadOnlySpan<byte> code, ulong address)
    {
        DecodedFunction body = DecodedFunction.Decode(code, address);
        ulong end = address + (ulong)code.Length;
        RegisterSet written = default;
        var calls = new List<ulong>();
        var exits = new List<ulong>();
        var stack = new List<StackReference>();
        string? unfollowable = body.UndecodableOffset is int offset
            ? $"its bytes at 0x{address + (ulong)offset:x} do not decode"
            : null;
        bool aligned = false;
        bool writesMemory = false;
        for (int index = 0; index < body.Instructions.Count; index++)
        {
            Instruction instruction = body.Instructions[index];
            written |= Writes(instruction);
            writesMemory |= WritesMemoryOffStack(instruction);
            switch (instruction.FlowControl)
            {
                case FlowControl.Call when Branches.DirectTarget(instruction) is ulong target:
                    calls.Add(target);
                    break;
                case FlowControl.IndirectCall:
                    unfollowable ??= $"an indirect call at 0x{instruction.IP:x}";
                    break;
                case FlowControl.UnconditionalBranch or FlowControl.ConditionalBranch
                    when Branches.DirectTarget(instruction) is ulong target && (target < address || target >= end):
                    exits.Add(target);
                    break;
                case FlowControl.IndirectBranch when !SwitchTables.IsDispatch(body.Instructions, index):
                    unfollowable ??= $"an indirect jump at 0x{instruction.IP:x}";
                    break;
            }

            if (StackOperand(instruction) is { } reference)
            {
                stack.Add(reference);
                aligned |= NeedsAlignment(instruction);
            }
        }

        return new BodyEffects(written, calls, exits, unfollowable, aligned, stack, writesMemory);
    }

    // push, call and the like write the stack through rsp; what a caller can see is any other memory written.
    private static bool WritesMemoryOffStack(in Instruction instruction)
    {
        foreach (UsedMemory used in InfoFactory.GetInfo(instruction).GetUsedMemory())
        {
            if (used.Access is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite
                && used.Base is not (Register.RSP or Register.RBP))
            {
                return true;
            }
        }

        return false;
    }

    private static RegisterSet Writes(in Instruction instruction)
    {
        RegisterSet written = default;
        foreach (UsedRegister used in InfoFactory.GetInfo(instruction).GetUsedRegisters())
        {
            if (used.Access is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite)
            {
                written |= RegisterSet.Of(used.Register);
            }
        }

        // Both leave the upper halves of every vector register zeroed, and syscall's rcx and r11 are the kernel's.
        return instruction.Mnemonic switch
        {
            Mnemonic.Vzeroupper or Mnemonic.Vzeroall => written | (RegisterSet.Vectors & new RegisterSet(0xFFFFUL << 16)),
            Mnemonic.Syscall => written | RegisterSet.Of(Register.RAX) | RegisterSet.Of(Register.RCX) | RegisterSet.Of(Register.R11),
            _ => written,
        };
    }

    private static StackReference? StackOperand(in Instruction instruction)
    {
        for (int operand = 0; operand < instruction.OpCount; operand++)
        {
            if (instruction.GetOpKind(operand) == OpKind.Memory && instruction.MemoryBase is Register.RSP or Register.RBP)
            {
                return new StackReference(instruction.IP, instruction.MemoryBase == Register.RBP,
                    (long)instruction.MemoryDisplacement64, instruction.MemorySize.GetSize(), instruction.Mnemonic == Mnemonic.Lea);
            }
        }

        return null;
    }

    // Legacy SSE forms fault on an unaligned 16-byte memory operand unless they are one of the unaligned moves; the VEX
    // and EVEX forms fault only in their explicitly aligned moves.
    private static bool NeedsAlignment(in Instruction instruction)
    {
        return instruction.Mnemonic switch
        {
            Mnemonic.Movaps or Mnemonic.Movapd or Mnemonic.Movdqa or Mnemonic.Movntps or Mnemonic.Movntpd or Mnemonic.Movntdq
                or Mnemonic.Vmovaps or Mnemonic.Vmovapd or Mnemonic.Vmovdqa or Mnemonic.Vmovdqa32 or Mnemonic.Vmovdqa64
                or Mnemonic.Fxsave or Mnemonic.Fxsave64 or Mnemonic.Fxrstor or Mnemonic.Fxrstor64 => true,
            Mnemonic.Movups or Mnemonic.Movupd or Mnemonic.Movdqu or Mnemonic.Lddqu => false,
            _ => instruction.Encoding == EncodingKind.Legacy && instruction.MemorySize.GetSize() == 16,
        };
    }
}
