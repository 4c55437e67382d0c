namespace Graft.Elf.Parsing;

internal static class RelocationReader
{
    private const int EntrySize = 24;

    /// <param name="symbolsOf">The symbol table held by a given section (the file's cached .symtab/.dynsym).</param>
    public static IReadOnlyList<ElfRelocation> Read(SectionSource sections, Func<ElfSection, IReadOnlyList<ElfSymbol>> symbolsOf)
    {
        var relocations = new List<ElfRelocation>();
        foreach (ElfSection section in sections.All.Where(s => s.Type == ElfSectionType.Rela))
        {
            ReadSection(sections, section, symbolsOf, relocations);
        }

        return relocations;
    }

    private static void ReadSection(
        SectionSource sections,
        ElfSection section,
        Func<ElfSection, IReadOnlyList<ElfSymbol>> symbolsOf,
        List<ElfRelocation> into)
    {
        if (section.EntrySize != 0 && section.EntrySize != EntrySize)
        {
            throw new ElfFormatException($"relocation section {section.Name} has entry size {section.EntrySize}, expected {EntrySize}");
        }

        IReadOnlyList<ElfSymbol> symbols = section.Link == 0 ? [] : symbolsOf(sections.Linked(section));
        ReadOnlySpan<byte> data = sections.Data(section).Span;
        var reader = new ByteReader(data, $"relocation section {section.Name}");
        for (int i = 0; i < data.Length / EntrySize; i++)
        {
            ulong offset = reader.U64();
            ulong info = reader.U64();
            long addend = reader.S64();
            uint symbolIndex = (uint)(info >> 32);
            ElfSymbol? symbol = null;
            if (symbolIndex != 0)
            {
                symbol = symbolIndex < (uint)symbols.Count
                    ? symbols[(int)symbolIndex]
                    : throw new ElfFormatException(
                        $"relocation {i} in {section.Name} refers to symbol {symbolIndex}, but its symbol table has {symbols.Count}");
            }

            into.Add(new ElfRelocation(offset, (uint)info, symbolIndex, addend, symbol, section.Name, (int)section.Info));
        }
    }
}
