using Graft.X86.Internal;

namespace Graft.X86.References;

/// <summary>
/// Where two compilations of a function differ only in the immediate operands of the same instructions: what a
/// moved <c>__LINE__</c> does to a function whose source a diff leaves alone (assert and redis's serverAssert pass
/// the line as a constant argument), which kpatch-build also tells apart from a change of code.
/// </summary>
public static class ImmediateDifferences
{
    /// <summary>
    /// The immediates that differ, original and patched, in the order of the code; empty when the bytes are the
    /// same; null when anything else differs: an instruction, its length, a register, a displacement. Relocated
    /// fields must already be masked alike in both (the caller compares relocations by what they mean).
    /// </summary>
    public static IReadOnlyList<(ulong Original, ulong Patched)>? Of(ReadOnlySpan<byte> original, ReadOnlySpan<byte> patched)
    {
        if (original.Length != patched.Length)
        {
            return null;
        }

        var (a, b) = (DecodedFunction.Decode(original, 0), DecodedFunction.Decode(patched, 0));
        if (a.UndecodableOffset is not null || b.UndecodableOffset is not null || a.Instructions.Count != b.Instructions.Count)
        {
            return null;
        }

        var (bytesA, bytesB) = (original.ToArray(), patched.ToArray());
        var differences = new List<(ulong, ulong)>();
        for (var i = 0; i < a.Instructions.Count; i++)
        {
            var (x, y) = (a.Instructions[i], b.Instructions[i]);
            var (start, length) = ((int)x.IP, x.Length);
            if (x.Code != y.Code || length != y.Length)
            {
                return null;
            }

            if (bytesA.AsSpan(start, length).SequenceEqual(bytesB.AsSpan(start, length)))
            {
                continue;
            }

            var immediate = Immediate(bytesA, start);
            if (immediate is not var (offset, size)
                || !bytesA.AsSpan(start, offset).SequenceEqual(bytesB.AsSpan(start, offset))
                || !bytesA.AsSpan(start + offset + size, length - offset - size).SequenceEqual(bytesB.AsSpan(start + offset + size, length - offset - size)))
            {
                return null;
            }

            differences.Add((Value(bytesA, start + offset, size), Value(bytesB, start + offset, size)));
        }

        return differences;
    }

    /// <summary>Where the (one) immediate of the instruction at <paramref name="start"/> lies in it; null if it has none or two.</summary>
    private static (int Offset, int Size)? Immediate(byte[] code, int start)
    {
        var offsets = DecodedFunction.ConstantOffsetsAt(code, start);
        return offsets.HasImmediate && !offsets.HasImmediate2 ? (offsets.ImmediateOffset, offsets.ImmediateSize) : null;
    }

    private static ulong Value(byte[] code, int at, int size)
    {
        ulong value = 0;
        for (var i = size - 1; i >= 0; i--)
        {
            value = (value << 8) | code[at + i];
        }

        return value;
    }
}
