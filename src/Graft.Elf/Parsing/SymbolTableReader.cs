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
            string symbolName = names.Get(name);
            (string? version, bool hidden) = versions?.For(i) ?? (null, false);
            if (versions is null)
            {
                (symbolName, version, hidden) = SplitVersion(symbolName);
            }

            symbols[i] = new ElfSymbol(
                symbolName,
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

    /// <summary>
    /// A .symtab names a versioned symbol <c>name@@VERSION</c> (the default version) or <c>name@VERSION</c> (hidden),
    /// where .dynsym keeps the version apart: split so that both tables answer to the same name, as a debug
    /// file's .symtab stands in for .dynsym (libc's <c>clock_nanosleep@@GLIBC_2.17</c> is <c>clock_nanosleep</c>).
    /// </summary>
    private static (string Name, string? Version, bool Hidden) SplitVersion(string name)
    {
        int at = name.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0)
        {
            return (name, null, false);
        }

        bool hidden = !name.AsSpan(at).StartsWith("@@", StringComparison.Ordinal);
        return (name[..at], name[(at + (hidden ? 1 : 2))..], hidden);
    }
}
