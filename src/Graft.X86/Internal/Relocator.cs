using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>Re-encodes instructions at a new address with Iced's BlockEncoder (RIP-relative operands and branches fixed up).</summary>
internal static class Relocator
{
    /// <param name="newOffsets">Where each instruction's code starts, relative to <paramref name="newAddress"/>.</param>
    public static bool TryRelocate(
        IReadOnlyList<Instruction> instructions, ulong newAddress, out byte[] code, out int[] newOffsets, out string error)
    {
        if (!TryEncode(instructions.ToArray(), newAddress, out code, out uint[] offsets, out error))
        {
            newOffsets = [];
            return false;
        }

        newOffsets = new int[offsets.Length];
        for (int index = 0; index < offsets.Length; index++)
        {
            if (offsets[index] != uint.MaxValue)
            {
                newOffsets[index] = (int)offsets[index];
                continue;
            }

            // Iced reports no offset for an instruction it rewrote as several (loop, jrcxz). It starts where the
            // instructions before it end: the block encoder lays them out the same way without what follows, because
            // the only branch target inside a window is its first instruction.
            if (!TryEncode(instructions.Take(index).ToArray(), newAddress, out byte[] prefix, out _, out error))
            {
                return false;
            }

            newOffsets[index] = prefix.Length;
        }

        return true;
    }

    private static bool TryEncode(Instruction[] instructions, ulong newAddress, out byte[] code, out uint[] newOffsets, out string error)
    {
        var writer = new ByteListWriter();
        var block = new InstructionBlock(writer, instructions, newAddress);
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
}
