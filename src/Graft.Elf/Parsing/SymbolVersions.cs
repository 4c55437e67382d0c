namespace Graft.Elf.Parsing;

/// <summary>The .gnu.version array joined with the version names from .gnu.version_d and .gnu.version_r.</summary>
internal sealed class SymbolVersions
{
    private const ushort HiddenBit = 0x8000;
    private const ushort LastUnnamedIndex = 1;

    private readonly ReadOnlyMemory<byte> _versym;
    private readonly IReadOnlyDictionary<ushort, string> _names;

    private SymbolVersions(ReadOnlyMemory<byte> versym, IReadOnlyDictionary<ushort, string> names)
    {
        _versym = versym;
        _names = names;
    }

    public static SymbolVersions? Read(SectionSource sections, ElfSection dynsym)
    {
        ElfSection? versym = sections.FirstOfType(ElfSectionType.GnuVerSym);
        if (versym is null)
        {
            return null;
        }

        var names = new Dictionary<ushort, string>();
        if (sections.FirstOfType(ElfSectionType.GnuVerDef) is { } verdef)
        {
            VersionDefinitionReader.ReadDefinitions(sections, verdef, names);
        }

        if (sections.FirstOfType(ElfSectionType.GnuVerNeed) is { } verneed)
        {
            VersionDefinitionReader.ReadRequirements(sections, verneed, names);
        }

        ReadOnlyMemory<byte> data = sections.Data(versym);
        ulong symbolCount = dynsym.Size / 24;
        if ((ulong)data.Length / 2 < symbolCount)
        {
            throw new ElfFormatException(
                $"{versym.Name} has {data.Length / 2} entries but {dynsym.Name} has {symbolCount} symbols");
        }

        return new SymbolVersions(data, names);
    }

    public (string? Version, bool Hidden) For(int symbolIndex)
    {
        var reader = new ByteReader(_versym.Span, ".gnu.version", symbolIndex * 2);
        ushort raw = reader.U16();
        ushort index = (ushort)(raw & ~HiddenBit);
        bool hidden = (raw & HiddenBit) != 0;
        if (index <= LastUnnamedIndex)
        {
            return (null, hidden);
        }

        return _names.TryGetValue(index, out string? name)
            ? (name, hidden)
            : throw new ElfFormatException($"symbol {symbolIndex} uses version index {index}, which no version definition or requirement declares");
    }
}
