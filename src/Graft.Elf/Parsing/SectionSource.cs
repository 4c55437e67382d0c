namespace Graft.Elf.Parsing;

/// <summary>Section contents and the sections they link to, for the readers of individual tables.</summary>
internal sealed class SectionSource(ReadOnlyMemory<byte> image, IReadOnlyList<ElfSection> sections)
{
    public IReadOnlyList<ElfSection> All => sections;

    public ReadOnlyMemory<byte> Data(ElfSection section)
    {
        return section.Type == ElfSectionType.NoBits
            ? ReadOnlyMemory<byte>.Empty
            : FileRange.Slice(image, section.Offset, section.Size, $"section {section.Index} ({section.Name})");
    }

    public ElfSection Linked(ElfSection section)
    {
        return section.Link < (uint)sections.Count
            ? sections[(int)section.Link]
            : throw new ElfFormatException(
                $"section {section.Index} ({section.Name}) links to section {section.Link}, but there are only {sections.Count}");
    }

    public StringTable LinkedStringTable(ElfSection section)
    {
        ElfSection strings = Linked(section);
        return new StringTable(Data(strings), $"string table {strings.Name} (section {strings.Index})");
    }

    public ElfSection? FirstOfType(uint type) => sections.FirstOrDefault(s => s.Type == type);
}
