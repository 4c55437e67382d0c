using Graft.Elf.Dwarf;
using Graft.Elf.Parsing;

namespace Graft.Elf;

/// <summary>A 64-bit little-endian x86-64 ELF object. Headers, segments and sections are read by
/// <see cref="Parse"/>; the tables behind the other properties are read on first use, so a malformed table
/// throws <see cref="ElfFormatException"/> from the property that needs it (and again on every later use).</summary>
public sealed class ElfFile
{
    // SHF_COMPRESSED: the section's bytes are a compression header and zlib or zstd data.

    private readonly SectionSource _sectionSource;
    private readonly LoadImage _loadImage;
    private readonly Lazy<string?> _buildId;
    private readonly Lazy<IReadOnlyList<ElfDynamicEntry>> _dynamicEntries;
    private readonly Lazy<string?> _soname;
    private readonly Lazy<IReadOnlyList<string>> _needed;
    private readonly Lazy<IReadOnlyList<ElfSymbol>> _ownSymbols;
    private readonly Lazy<SeparateDebugFile?> _separateDebug;
    private readonly Lazy<IReadOnlyList<ElfSymbol>> _dynamicSymbols;
    private readonly Lazy<IReadOnlyList<ElfRelocation>> _relocations;
    private readonly Lazy<EhFrameTable?> _ehFrame;

    private ElfFile(ReadOnlyMemory<byte> image, Func<ElfFile, SeparateDebugFile>? findSeparateDebug)
    {
        Image = image;
        ElfHeader header = ElfHeader.Read(image.Span);
        Kind = header.Kind;
        ElfSection? first = SectionTableReader.ReadFirst(image.Span, header);
        Segments = SegmentTableReader.Read(image.Span, header, first?.Info);
        Sections = SectionTableReader.Read(image, header, first);
        _sectionSource = new SectionSource(image, Sections);
        _loadImage = new LoadImage(image, Segments);
        _buildId = new(() => BuildIdReader.Read(this));
        _dynamicEntries = new(() => DynamicSectionReader.Read(DynamicArea()));
        _soname = new(() => DynamicSectionReader.ReadSoname(DynamicEntries, _loadImage));
        _needed = new(() => DynamicSectionReader.ReadNeeded(DynamicEntries, _loadImage));
        _ownSymbols = new(() => ReadSymbols(ElfSectionType.SymTab));
        _separateDebug = new(() => findSeparateDebug?.Invoke(this));
        _dynamicSymbols = new(() => ReadSymbols(ElfSectionType.DynSym));
        _relocations = new(() => RelocationReader.Read(_sectionSource, SymbolsOf));
        _ehFrame = new(() => EhFrameLocator.Locate(this, _loadImage));
    }

    public ElfKind Kind { get; }

    public IReadOnlyList<ElfSegment> Segments { get; }

    /// <summary>The section headers; empty when the file has none.</summary>
    public IReadOnlyList<ElfSection> Sections { get; }

    /// <summary>Lowercase hex of the NT_GNU_BUILD_ID note, from PT_NOTE segments or SHT_NOTE sections.</summary>
    public string? BuildId => _buildId.Value;

    /// <summary>DT_SONAME, read through DT_STRTAB.</summary>
    public string? Soname => _soname.Value;

    /// <summary>The libraries the object was linked against (DT_NEEDED), in their order.</summary>
    public IReadOnlyList<string> Needed => _needed.Value;

    /// <summary>The entries of PT_DYNAMIC (or of the SHT_DYNAMIC section), up to DT_NULL.</summary>
    public IReadOnlyList<ElfDynamicEntry> DynamicEntries => _dynamicEntries.Value;

    /// <summary>.symtab in table order, the null symbol at index 0 included: the object's own, else its
    /// <see cref="SeparateDebug"/> file's; empty if stripped and no debug file is found.</summary>
    public IReadOnlyList<ElfSymbol> Symbols => HasOwnSymbols ? _ownSymbols.Value : SeparateDebug?.File?.Symbols ?? [];

    /// <summary>Where <see cref="Symbols"/> come from: ".symtab", ".symtab of" the debug file, or ".dynsym" when there are none.</summary>
    public string SymbolTableName => HasOwnSymbols ? ".symtab" : SeparateDebug?.Path is { } path ? $".symtab of {path}" : ".dynsym";

    /// <summary>The separate debug file of an object stripped of its .symtab, looked for on first use when the
    /// object was loaded from a path (<see cref="Load"/>, <see cref="Parse(ReadOnlyMemory{byte}, Func{ElfFile, SeparateDebugFile}?)"/>
    /// with a search); null otherwise.</summary>
    public SeparateDebugFile? SeparateDebug => HasOwnSymbols && FindSection(".debug_info") is not null ? null : _separateDebug.Value;


    /// <summary>.dynsym in table order, the null symbol at index 0 included, with symbol versions.</summary>
    public IReadOnlyList<ElfSymbol> DynamicSymbols => _dynamicSymbols.Value;

    /// <summary>The entries of every SHT_RELA section, section by section.</summary>
    public IReadOnlyList<ElfRelocation> Relocations => _relocations.Value;

    /// <summary>Lowest p_vaddr of the PT_LOAD segments, rounded down to a page. The load bias of a
    /// mapped object is the start of its first mapping minus this.</summary>
    public ulong LowestLoadAddress => _loadImage.LowestAddress;

    /// <summary>The parsed .eh_frame, or null if the object has none.</summary>
    public EhFrameTable? EhFrame => _ehFrame.Value;

    /// <summary>The bytes parsed: the whole file.</summary>
    public ReadOnlyMemory<byte> Image { get; }

    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="ElfFormatException">The file is not an ELF object we support.</exception>
    public static ElfFile Load(string path)
    {
        return Parse(File.ReadAllBytes(path), elf => SeparateDebugFile.Find(elf, path));
    }

    /// <summary>Parses an image: a file's bytes, or an object read from process memory such as [vdso].</summary>
    public static ElfFile Parse(ReadOnlyMemory<byte> image)
    {
        return new ElfFile(image, null);
    }

    /// <summary>Parses a file's bytes; <paramref name="findSeparateDebug"/> finds its debug file if it is stripped
    /// (<see cref="SeparateDebugFile.Find"/> with the path the bytes were read from).</summary>
    public static ElfFile Parse(ReadOnlyMemory<byte> image, Func<ElfFile, SeparateDebugFile>? findSeparateDebug)
    {
        return new ElfFile(image, findSeparateDebug);
    }

    /// <summary>The file that holds the object's DWARF (.debug_info): itself, or its separate debug file. A method, not a
    /// property: it may be this object, and `graft info --json` serializes a patch's ElfFile.</summary>
    public ElfFile DwarfFile()
    {
        return FindSection(".debug_info") is null && SeparateDebug?.File is { } debug && debug.FindSection(".debug_info") is not null ? debug : this;
    }

    public ElfSection? FindSection(string name)
    {
        return Sections.FirstOrDefault(s => s.Name == name);
    }

    /// <summary>The section's bytes; empty for SHT_NOBITS.</summary>
    public ReadOnlyMemory<byte> GetSectionData(ElfSection s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return _sectionSource.Data(s);
    }

    /// <summary>Reads the object's memory image as the PT_LOAD segments lay it out (bytes past p_filesz
    /// up to p_memsz read as zero). False if any byte lies outside every PT_LOAD segment; the destination
    /// may then be partly written.</summary>
    public bool TryReadAtAddress(ulong virtualAddress, Span<byte> destination)
    {
        return _loadImage.TryRead(virtualAddress, destination);
    }

    private ReadOnlySpan<byte> DynamicArea()
    {
        ElfSegment? segment = Segments.FirstOrDefault(s => s.Type == ElfSegmentType.Dynamic);
        if (segment is not null)
        {
            return FileRange.Slice(Image, segment.Offset, segment.FileSize, "PT_DYNAMIC segment").Span;
        }

        ElfSection? section = _sectionSource.FirstOfType(ElfSectionType.Dynamic);
        return section is null ? [] : GetSectionData(section).Span;
    }

    private IReadOnlyList<ElfSymbol> ReadSymbols(uint type)
    {
        ElfSection? table = _sectionSource.FirstOfType(type);
        if (table is null)
        {
            return [];
        }

        SymbolVersions? versions = type == ElfSectionType.DynSym ? SymbolVersions.Read(_sectionSource, table) : null;
        return SymbolTableReader.Read(_sectionSource, table, versions);
    }

    // More than the null symbol: `strip --strip-unneeded` may leave a .symtab with nothing in it.
    private bool HasOwnSymbols => _ownSymbols.Value.Count > 1;

    private IReadOnlyList<ElfSymbol> SymbolsOf(ElfSection table)
    {
        if (table == _sectionSource.FirstOfType(ElfSectionType.DynSym))
        {
            return DynamicSymbols;
        }

        if (table == _sectionSource.FirstOfType(ElfSectionType.SymTab))
        {
            return _ownSymbols.Value;
        }

        return table.Type is ElfSectionType.SymTab or ElfSectionType.DynSym
            ? SymbolTableReader.Read(_sectionSource, table, null)
            : throw new ElfFormatException($"section {table.Index} ({table.Name}) is used as a symbol table but has type 0x{table.Type:x}");
    }
}
