namespace Graft.Elf.Parsing;

internal static class NoteReader
{
    private const uint GnuBuildIdType = 3;

    /// <summary>Lowercase hex of the first NT_GNU_BUILD_ID note owned by "GNU" in a note area.</summary>
    /// <param name="alignment">8 for areas aligned to 8 (e.g. .note.gnu.property), else 4, as the linkers lay them out.</param>
    public static string? FindBuildId(ReadOnlySpan<byte> notes, ulong alignment, string what)
    {
        int align = alignment == 8 ? 8 : 4;
        var reader = new ByteReader(notes, what);
        while (reader.Remaining >= 12)
        {
            uint nameSize = reader.U32();
            uint descSize = reader.U32();
            uint type = reader.U32();
            ReadOnlySpan<byte> name = reader.Bytes(Checked(nameSize, reader.Remaining, what));
            SkipPadding(ref reader, align);
            ReadOnlySpan<byte> desc = reader.Bytes(Checked(descSize, reader.Remaining, what));
            SkipPadding(ref reader, align);
            if (type == GnuBuildIdType && name.SequenceEqual("GNU\0"u8))
            {
                return Convert.ToHexStringLower(desc);
            }
        }

        return null;
    }

    private static int Checked(uint size, int remaining, string what)
    {
        return size <= (uint)remaining
            ? (int)size
            : throw new ElfFormatException($"{what}: note of {size} bytes runs past the end ({remaining} bytes left)");
    }

    // The padding after the last note may be missing when the area's size was not rounded up.
    private static void SkipPadding(ref ByteReader reader, int align)
    {
        int padded = (reader.Position + align - 1) & ~(align - 1);
        reader.Position = Math.Min(padded, reader.Length);
    }
}
