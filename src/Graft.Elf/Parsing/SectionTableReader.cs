namespace Graft.Elf.Parsing;

internal static class SectionTableReader
{
    private const int EntrySize = 64;
    private const int ExtendedIndex = 0xffff;

    /// <summary>Reads section 0 alone: with e_shnum = 0, e_shstrndx = SHN_XINDEX or e_phnum = PN_XNUM its
    /// size, link and info hold the real values.</summary>
    public static ElfSection? ReadFirst(ReadOnlySpan<byte> image, ElfHeader header)
    {
        if (header.SectionHeaderOffset == 0)
        {
            return null;
        }

        CheckEntrySize(header);
        if (!FileRange.Fits(header.SectionHeaderOffset, EntrySize, image.Length))
        {
            throw new ElfFormatException(
                $"section header table at offset 0x{header.SectionHeaderOffset:x} lies outside the file of 0x{image.Length:x} bytes");
        }

        return ReadEntry(image.Slice((int)header.SectionHeaderOffset, EntrySize), 0, null);
    }

    public static IReadOnlyList<ElfSection> Read(ReadOnlyMemory<byte> image, ElfHeader header, ElfSection? first)
    {
        if (first is null)
        {
            return [];
        }

        ulong count = header.SectionHeaderCount == 0 ? first.Size : (ulong)header.SectionHeaderCount;
        ulong tableSize = count * (ulong)header.SectionHeaderEntrySize;
        if (count > int.MaxValue || !FileRange.Fits(header.SectionHeaderOffset, tableSize, image.Length))
        {
            throw new ElfFormatException(
                $"section header table ({count} entries at offset 0x{header.SectionHeaderOffset:x}) lies outside the file of 0x{image.Length:x} bytes");
        }

        ReadOnlySpan<byte> table = image.Span.Slice((int)header.SectionHeaderOffset, (int)tableSize);
        StringTable? names = ReadNameTable(image, header, first, table, (int)count);
        var sections = new ElfSection[count];
        for (int i = 0; i < sections.Length; i++)
        {
            ElfSection section = ReadEntry(table[(i * header.SectionHeaderEntrySize)..], i, names);
            if (section.Type != ElfSectionType.NoBits && !FileRange.Fits(section.Offset, section.Size, image.Length))
            {
                throw new ElfFormatException(
                    $"section {i} ({section.Name}) lies outside the file: offset 0x{section.Offset:x} + size 0x{section.Size:x} > file size 0x{image.Length:x}");
            }

            if (section.Type != ElfSectionType.NoBits && (section.Flags & CompressedSection.Flag) != 0)
            {
                CompressedSection.CheckHeader(image.Span.Slice((int)section.Offset, (int)section.Size), $"section {i} ({section.Name})");
            }

            sections[i] = section;
        }

        return sections;
    }

    private static StringTable? ReadNameTable(ReadOnlyMemory<byte> image, ElfHeader header, ElfSection first, ReadOnlySpan<byte> table, int count)
    {
        long index = header.SectionNameTableIndex == ExtendedIndex ? first.Link : header.SectionNameTableIndex;
        if (index == 0)
        {
            return null;
        }

        if (index >= count)
        {
            throw new ElfFormatException($"section name table index {index} is out of range ({count} sections)");
        }

        ElfSection nameSection = ReadEntry(table[((int)index * header.SectionHeaderEntrySize)..], (int)index, null);
        ReadOnlyMemory<byte> data = FileRange.Slice(image, nameSection.Offset, nameSection.Size, $"section name table (section {index})");
        return new StringTable(data, "the section name table");
    }

    private static ElfSection ReadEntry(ReadOnlySpan<byte> entry, int index, StringTable? names)
    {
        var reader = new ByteReader(entry, $"section header {index}");
        uint name = reader.U32();
        uint type = reader.U32();
        ulong flags = reader.U64();
        ulong address = reader.U64();
        ulong offset = reader.U64();
        ulong size = reader.U64();
        uint link = reader.U32();
        uint info = reader.U32();
        ulong alignment = reader.U64();
        ulong entrySize = reader.U64();
        return new ElfSection(index, names?.Get(name) ?? string.Empty, type, flags, address, offset, size, link, info, alignment, entrySize);
    }

    private static void CheckEntrySize(ElfHeader header)
    {
        if (header.SectionHeaderEntrySize < EntrySize)
        {
            throw new ElfFormatException($"section header entry size {header.SectionHeaderEntrySize} is smaller than {EntrySize}");
        }
    }
}
