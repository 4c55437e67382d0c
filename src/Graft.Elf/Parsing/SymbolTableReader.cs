namespace Graft.Elf.Parsing;

internal static class SymbolTableReader
{
    private const int EntrySize = 24;

    /// <summary>Every entry in table order, index 0 (the null symbol) included, so that relocation symbol
    /// indices index the list directly.</summary>
    public static IReadOnlyList<ElfSymbol> Read(SectionSource sections, ElfSection table, SymbolVersions? versions)
    {
        if (table.EntrySize != 0 && table.EntrySize != EntrySize)
        {
            throw new ElfFormatException($"symbol table {table.Name} has entry size {table.EntrySize}, expected {EntrySize}");
        }

        StringTable names = sections.LinkedStringTable(table);
        ReadOnlySpan<byte> data = sections.Data(table).Span;
        int count = data.Length / EntrySize;
        var symbols = new ElfSymbol[count];
        var reader = new ByteReader(data, $"symbol table {table.Name}");
        for (int i = 0; i < count; i++)
        {
            uint name = reader.U32();
            byte info = reader.U8();
            byte other = reader.U8();
            ushort sectionIndex = reader.U16();
            ulong value = reader.U64();
            ulong size = reader.U64();
            (string? version, bool hidden) = versions?.For(i) ?? (null, false);
            symbols[i] = new ElfSymbol(
                names.Get(name),
                value,
                size,
                (ElfSymbolType)(info & 0xf),
                (ElfSymbolBinding)(info >> 4),
                (byte)(other & 0x3),
                sectionIndex,
                version,
                hidden);
        }

        return symbols;
    }
}
