using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>A function decoded linearly from its first byte, as far as its bytes decode.</summary>
internal sealed class DecodedFunction
{
    private DecodedFunction(ulong address, List<Instruction> instructions, int? undecodableOffset)
    {
        Address = address;
        Instructions = instructions;
        UndecodableOffset = undecodableOffset;
    }

    public ulong Address { get; }

    public IReadOnlyList<Instruction> Instructions { get; }

    /// <summary>Offset of bytes in the body that do not decode; null when decoding reached the end or trailing padding.</summary>
    public int? UndecodableOffset { get; }

    /// <summary>Offset where the decoded instructions end.</summary>
    public int DecodedLength => Instructions.Count == 0 ? 0 : Offset(Instructions[^1].NextIP);

    public int Offset(ulong address)
    {
        return checked((int)(address - Address));
    }

    /// <summary>Where the displacement and immediates lie in the instruction at <paramref name="start"/> of <paramref name="code"/>, as its own bytes encode it.</summary>
    public static ConstantOffsets ConstantOffsetsAt(byte[] code, int start)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code, start, code.Length - start), (ulong)start);
        decoder.Decode(out var instruction);
        return decoder.GetConstantOffsets(instruction);
    }

    public static DecodedFunction Decode(ReadOnlySpan<byte> bytes, ulong address)
    {
        byte[] code = bytes.ToArray();
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), address);
        var instructions = new List<Instruction>();
        int offset = 0;
        while (offset < code.Length)
        {
            decoder.Decode(out Instruction instruction);
            if (decoder.LastError != DecoderError.None || instruction.Code == Code.INVALID)
            {
                int? undecodable = IsPadding(code.AsSpan(offset)) ? null : offset;
                return new DecodedFunction(address, instructions, undecodable);
            }

            instructions.Add(instruction);
            offset += instruction.Length;
        }

        return new DecodedFunction(address, instructions, null);
    }

    // Compilers and assemblers fill the gap after a function's last instruction with int3, zeros or nops.
    private static bool IsPadding(ReadOnlySpan<byte> tail)
    {
        return tail.IndexOfAnyExcept((byte)0xCC, (byte)0x00, (byte)0x90) < 0;
    }
}
