namespace Graft.Elf.Writing;

/// <summary>A section of an object being built. <see cref="Data"/> may grow until the object is
/// written; <see cref="ReservedSize"/> is the size of an SHT_NOBITS section, which has no data.</summary>
public sealed class OutputSection(string name, uint type, ulong flags, ulong alignment, ulong entrySize)
{
    public string Name => name;

    public uint Type => type;

    public ulong Flags => flags;

    public ulong Alignment => alignment;

    public ulong EntrySize => entrySize;

    public List<byte> Data { get; } = [];

    public ulong ReservedSize { get; set; }

    public ulong Size => Type == ElfSectionType.NoBits ? ReservedSize : (ulong)Data.Count;

    public List<OutputRelocation> Relocations { get; } = [];
}

/// <summary>A symbol of an object being built; <see cref="Section"/> null: undefined.</summary>
public sealed record OutputSymbol(string Name, ElfSymbolType Type, ElfSymbolBinding Binding, byte Visibility, OutputSection? Section, ulong Value, ulong Size);

/// <summary>An Elf64_Rela entry of an object being built.</summary>
public sealed record OutputRelocation(ulong Offset, uint Type, OutputSymbol Symbol, long Addend);

/// <summary>
/// The sections, symbols and relocations of an x86-64 relocatable object (ET_REL) that
/// <see cref="RelocatableWriter"/> turns into a file the linker takes. Every section gets its
/// section symbol; local symbols are written before the others, as the format requires.
/// </summary>
public sealed class ObjectBuilder
{
    private readonly Dictionary<OutputSection, OutputSymbol> _sectionSymbols = [];

    public List<OutputSection> Sections { get; } = [];

    public List<OutputSymbol> Symbols { get; } = [];

    public OutputSection AddSection(string name, uint type, ulong flags, ulong alignment, ulong entrySize = 0)
    {
        var section = new OutputSection(name, type, flags, alignment, entrySize);
        Sections.Add(section);
        _sectionSymbols[section] = new OutputSymbol("", ElfSymbolType.Section, ElfSymbolBinding.Local, 0, section, 0, 0);
        return section;
    }

    public OutputSymbol SectionSymbol(OutputSection section) => _sectionSymbols[section];

    public OutputSymbol AddSymbol(OutputSymbol symbol)
    {
        Symbols.Add(symbol);
        return symbol;
    }

    /// <summary>Section symbols first, then the other locals, then the rest: the symbol table's order.</summary>
    internal IReadOnlyList<OutputSymbol> OrderedSymbols() =>
    [
        .. Sections.Select(s => _sectionSymbols[s]),
        .. Symbols.Where(s => s.Binding == ElfSymbolBinding.Local),
        .. Symbols.Where(s => s.Binding != ElfSymbolBinding.Local),
    ];
}
