namespace Graft.Elf.Parsing;

internal static class SegmentTableReader
{
    private const int EntrySize = 56;
    private const int ExtendedCount = 0xffff;

    /// <param name="extendedCount">sh_info of section 0, which holds the real count when e_phnum is PN_XNUM.</param>
    public static IReadOnlyList<ElfSegment> Read(ReadOnlySpan<byte> image, ElfHeader header, uint? extendedCount)
    {
        int count = header.ProgramHeaderCount;
        if (count == ExtendedCount && extendedCount is { } real)
        {
            count = (int)Math.Min(real, int.MaxValue);
        }

        if (count == 0)
        {
            return [];
        }

        if (header.ProgramHeaderEntrySize < EntrySize)
        {
            throw new ElfFormatException($"program header entry size {header.ProgramHeaderEntrySize} is smaller than {EntrySize}");
        }

        ulong tableSize = (ulong)count * (ulong)header.ProgramHeaderEntrySize;
        if (!FileRange.Fits(header.ProgramHeaderOffset, tableSize, image.Length))
        {
            throw new ElfFormatException(
                $"program header table ({count} entries at offset 0x{header.ProgramHeaderOffset:x}) lies outside the file of 0x{image.Length:x} bytes");
        }

        ReadOnlySpan<byte> table = image.Slice((int)header.ProgramHeaderOffset, (int)tableSize);
        var segments = new ElfSegment[count];
        for (int i = 0; i < count; i++)
        {
            var reader = new ByteReader(table, "program header table", i * header.ProgramHeaderEntrySize);
            uint type = reader.U32();
            var flags = (ElfSegmentFlags)reader.U32();
            ulong offset = reader.U64();
            ulong vaddr = reader.U64();
            reader.U64();
            ulong filesz = reader.U64();
            ulong memsz = reader.U64();
            ulong align = reader.U64();
            var segment = new ElfSegment(type, flags, offset, vaddr, filesz, memsz, align);
            Validate(segment, i, image.Length);
            segments[i] = segment;
        }

        return segments;
    }

    private static void Validate(ElfSegment segment, int index, int imageLength)
    {
        string what = $"segment {index} (type 0x{segment.Type:x})";
        if (!FileRange.Fits(segment.Offset, segment.FileSize, imageLength))
        {
            throw new ElfFormatException(
                $"{what} lies outside the file: offset 0x{segment.Offset:x} + size 0x{segment.FileSize:x} > file size 0x{imageLength:x}");
        }

        if (segment.Type != ElfSegmentType.Load)
        {
            return;
        }

        if (segment.FileSize > segment.MemorySize)
        {
            throw new ElfFormatException($"{what} has a file size 0x{segment.FileSize:x} larger than its memory size 0x{segment.MemorySize:x}");
        }

        if (segment.MemorySize > ulong.MaxValue - segment.VirtualAddress)
        {
            throw new ElfFormatException($"{what} wraps around the address space");
        }
    }
}
