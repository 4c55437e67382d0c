using System.Buffers.Binary;

using Graft.X86.Internal;

namespace Graft.X86;

/// <summary>The 5-byte <c>jmp rel32</c> written over a function's entry.</summary>
public static class JumpCode
{
    public const int JmpRel32Length = 5;

    private const byte JmpRel32Opcode = 0xE9;

    /// <summary>Encodes <c>E9 rel32</c> placed at <paramref name="from"/> and landing on <paramref name="to"/>.</summary>
    public static byte[] EncodeJmpRel32(ulong from, ulong to)
    {
        if (!IsWithinRel32(from, to))
        {
            throw new SlotEncodingException(
                $"a jmp rel32 at 0x{from:x} cannot reach 0x{to:x}: the distance does not fit in a signed 32-bit displacement");
        }

        byte[] code = new byte[JmpRel32Length];
        code[0] = JmpRel32Opcode;
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(1), (int)Rel32.Displacement((Int128)from + JmpRel32Length, to));
        return code;
    }

    /// <summary>
    /// Whether an instruction of <paramref name="instructionLength"/> bytes at <paramref name="from"/>
    /// can reach <paramref name="to"/> with a rel32 displacement (which counts from the instruction's end).
    /// </summary>
    public static bool IsWithinRel32(ulong from, ulong to, int instructionLength = JmpRel32Length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(instructionLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(instructionLength, Rel32.MaxInstructionLength);
        return Rel32.Fits(Rel32.Displacement((Int128)from + instructionLength, to));
    }
}
