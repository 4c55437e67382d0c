using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>Re-encodes instructions at a new address with Iced's BlockEncoder (RIP-relative operands and branches fixed up).</summary>
internal static class Relocator
{
    public static bool TryRelocate(
        IReadOnlyList<Instruction> instructions, ulong newAddress, out byte[] code, out uint[] newOffsets, out string error)
    {
        var writer = new ByteListWriter();
        var block = new InstructionBlock(writer, instructions.ToArray(), newAddress);
        if (!BlockEncoder.TryEncode(64, block, out string? message, out BlockEncoderResult result, BlockEncoderOptions.ReturnNewInstructionOffsets))
        {
            code = [];
            newOffsets = [];
            error = message ?? "Iced's BlockEncoder gave no reason";
            return false;
        }

        code = writer.ToArray();
        newOffsets = result.NewInstructionOffsets;
        error = "";
        return true;
    }

    private sealed class ByteListWriter : CodeWriter
    {
        private readonly List<byte> _bytes = [];

        public override void WriteByte(byte value)
        {
            _bytes.Add(value);
        }

        public byte[] ToArray()
        {
            return [.. _bytes];
        }
    }
}
