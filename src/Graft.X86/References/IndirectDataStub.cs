using Graft.X86.Internal;
using Iced.Intel;

namespace Graft.X86.References;

/// <summary>
/// Code that runs one instruction of a function with its RIP-relative memory operand replaced by an
/// address read from a GOT slot. Compiled code reaches its own data PC-relatively (±2 GB); a
/// patch loaded elsewhere reaches the target's data only through an address, which the GOT slot
/// holds. The function's instruction becomes a jump here; this code frees a register the
/// instruction does not use, loads the address into it, runs the instruction on it and jumps back.
/// It moves rsp past the red zone first (a leaf may keep data there) and changes no flags.
/// </summary>
/// <param name="Code">The stub's bytes.</param>
/// <param name="GotField">Offset of the rel32 that must point at the GOT slot (R_X86_64_GOTPCREL, addend -4).</param>
/// <param name="ReturnField">Offset of the rel32 of the jump back, to the byte after the original instruction (addend -4).</param>
public sealed record IndirectDataStub(byte[] Code, int GotField, int ReturnField)
{
    private const int RedZone = 128;

    private static readonly Register[] Scratch =
    [
        Register.RAX, Register.RCX, Register.RDX, Register.RSI, Register.RDI, Register.R8, Register.R9, Register.R10,
        Register.R11, Register.RBX, Register.R12, Register.R13, Register.R14, Register.R15, Register.RBP,
    ];

    /// <summary>The stub for the instruction of <paramref name="code"/> at <paramref name="site"/>, whose operand
    /// addresses the GOT slot's symbol plus <paramref name="offsetFromSymbol"/>.</summary>
    /// <exception cref="InvalidOperationException">The instruction cannot run elsewhere: it uses the stack or branches; the message says which.</exception>
    public static IndirectDataStub Build(CompiledCode code, ReferenceSite site, long offsetFromSymbol)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(site);
        var instruction = code.InstructionAt(site.Start) ?? throw new InvalidOperationException($"no instruction at offset {site.Start}");
        if (instruction.FlowControl != FlowControl.Next || instruction.StackPointerIncrement != 0)
        {
            throw new InvalidOperationException($"'{instruction}' branches or uses the stack");
        }

        var used = new InstructionInfoFactory().GetInfo(instruction).GetUsedRegisters().Select(r => r.Register.GetFullRegister()).ToHashSet();
        if (used.Contains(Register.RSP))
        {
            throw new InvalidOperationException($"'{instruction}' uses rsp");
        }

        var scratch = Scratch.First(r => !used.Contains(r));
        var rewritten = instruction;
        rewritten.MemoryBase = scratch;
        rewritten.MemoryDisplacement64 = (ulong)offsetFromSymbol;
        rewritten.MemoryDisplSize = 8;

        var bytes = new List<byte>();
        bytes.AddRange([0x48, 0x8d, 0x64, 0x24, unchecked((byte)-RedZone)]); // lea rsp, [rsp-128]
        PushOrPop(bytes, scratch, 0x50);
        int number = scratch - Register.RAX;
        bytes.AddRange([(byte)(0x48 | (number >= 8 ? 4 : 0)), 0x8b, (byte)(0x05 | ((number & 7) << 3))]); // mov scratch, [rip+GOT]
        int gotField = bytes.Count;
        bytes.AddRange([0, 0, 0, 0]);
        var writer = new ByteListWriter();
        Encoder.Create(64, writer).Encode(rewritten, 0);
        bytes.AddRange(writer.ToArray());
        PushOrPop(bytes, scratch, 0x58);
        bytes.AddRange([0x48, 0x8d, 0xa4, 0x24, RedZone, 0, 0, 0]); // lea rsp, [rsp+128]
        bytes.Add(0xe9);
        int returnField = bytes.Count;
        bytes.AddRange([0, 0, 0, 0]);
        return new IndirectDataStub([.. bytes], gotField, returnField);
    }

    // push (0x50) or pop (0x58) of a general register.
    private static void PushOrPop(List<byte> bytes, Register register, byte opcode)
    {
        int number = register - Register.RAX;
        if (number >= 8)
        {
            bytes.Add(0x41);
        }

        bytes.Add((byte)(opcode + (number & 7)));
    }
}
