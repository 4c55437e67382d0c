using Graft.Elf;
using Graft.X86.References;

namespace Graft.Patching.Building.FromDiff;

/// <summary>
/// One object file of a build made with -ffunction-sections -fdata-sections: its functions and
/// data objects by name, each in a section of its own, and the relocations of every section.
/// </summary>
internal sealed class CompiledObject
{
    private const ulong MergeFlag = 0x10;
    private const ulong StringsFlag = 0x20;
    private const ulong ExecutableFlag = 0x4;

    private readonly Dictionary<int, List<ElfRelocation>> _relocations;
    private readonly Dictionary<int, CompiledCode> _code = [];

    public CompiledObject(string path)
    {
        Path = path;
        Elf = ElfFile.Load(path);
        if (Elf.Kind != ElfKind.Relocatable)
        {
            throw new GraftException(GraftFailure.Refused, $"{path} is not an object file");
        }

        SourceFile = Elf.Symbols.FirstOrDefault(s => s.Type == ElfSymbolType.File)?.Name ?? System.IO.Path.GetFileNameWithoutExtension(path) + ".c";
        Functions = Defined(ElfSymbolType.Func);
        DataObjects = Defined(ElfSymbolType.Object);
        _relocations = Elf.Relocations.GroupBy(r => r.AppliesTo).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Offset).ToList());
    }

    public string Path { get; }

    public ElfFile Elf { get; }

    /// <summary>The source file it was compiled from, as its STT_FILE symbol names it (the binary's symbol table names it the same).</summary>
    public string SourceFile { get; }

    public IReadOnlyDictionary<string, ElfSymbol> Functions { get; }

    public IReadOnlyDictionary<string, ElfSymbol> DataObjects { get; }

    public ElfSection SectionOf(ElfSymbol symbol) => Elf.Sections[symbol.SectionIndex];

    public IReadOnlyList<ElfRelocation> RelocationsOf(ElfSection section) =>
        _relocations.TryGetValue(section.Index, out var relocations) ? relocations : [];

    public byte[] Bytes(ElfSection section) => Elf.GetSectionData(section).ToArray();

    /// <summary>The function or data object that covers <paramref name="offset"/> of <paramref name="section"/>; null for anonymous data (string literals, constants, switch tables).</summary>
    public ElfSymbol? NamedAt(ElfSection section, long offset) =>
        Elf.Symbols.FirstOrDefault(s => s.SectionIndex == section.Index && s.Type is ElfSymbolType.Func or ElfSymbolType.Object
            && offset >= (long)s.Value && (offset < (long)(s.Value + s.Size) || offset == (long)s.Value));

    /// <summary>
    /// For a relocation that names a place rather than a function or variable (a section symbol, or a
    /// local label such as .LC2 that the assembler keeps for mergeable strings): the section and
    /// the offset in it that the relocation means. Null for a named function or variable.
    /// </summary>
    public (ElfSection Section, long Offset)? Place(ElfSection within, ElfRelocation relocation)
    {
        var symbol = relocation.Symbol;
        var place = symbol is { Type: ElfSymbolType.Section }
            || symbol is { Type: ElfSymbolType.NoType, Binding: ElfSymbolBinding.Local, IsDefined: true };
        return place && symbol!.SectionIndex < Elf.Sections.Count
            ? (Elf.Sections[symbol.SectionIndex], (long)symbol.Value + relocation.Addend + Reach(within, relocation))
            : null;
    }

    public static bool IsCode(ElfSection section) => (section.Flags & ExecutableFlag) != 0;

    public static bool IsStrings(ElfSection section) => (section.Flags & (MergeFlag | StringsFlag)) == (MergeFlag | StringsFlag);

    /// <summary>What a relocation adds to its addend to reach the byte it means: in code, the distance from the
    /// field to the end of its instruction for PC-relative types; 0 otherwise.</summary>
    public long Reach(ElfSection section, ElfRelocation relocation)
    {
        if (!IsCode(section) || !RelocationKinds.IsPcRelative(relocation.Type))
        {
            return 0;
        }

        return Code(section).Site((int)relocation.Offset)?.FieldToEnd
            ?? throw new GraftException(GraftFailure.Refused, $"{Path}: no instruction of {section.Name} holds the relocation at 0x{relocation.Offset:x}");
    }

    public CompiledCode Code(ElfSection section)
    {
        if (!_code.TryGetValue(section.Index, out var code))
        {
            code = new CompiledCode(Elf.GetSectionData(section).Span);
            _code[section.Index] = code;
        }

        return code;
    }

    private Dictionary<string, ElfSymbol> Defined(ElfSymbolType type)
    {
        var named = new Dictionary<string, ElfSymbol>();
        foreach (var symbol in Elf.Symbols.Where(s => s.Type == type && s.IsDefined && s.SectionIndex < 0xff00 && s.Name.Length > 0))
        {
            named.TryAdd(symbol.Name, symbol);
        }

        return named;
    }
}
