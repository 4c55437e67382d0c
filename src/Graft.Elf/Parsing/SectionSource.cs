namespace Graft.Elf.Parsing;

/// <summary>Section contents and the sections they link to, for the readers of individual tables.</summary>
internal sealed class SectionSource(ReadOnlyMemory<byte> image, IReadOnlyList<ElfSection> sections)
{
    private readonly Dictionary<int, ReadOnlyMemory<byte>> _decompressed = [];

    public IReadOnlyList<ElfSection> All => sections;

    /// <summary>The section's contents; for a compressed one (SHF_COMPRESSED: dh_strip's --compress-debug-sections),
    /// decompressed, or empty if graft cannot read it (<see cref="CompressedSection.TryDecompress"/>).</summary>
    public ReadOnlyMemory<byte> Data(ElfSection section)
    {
        if (section.Type == ElfSectionType.NoBits)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        var stored = FileRange.Slice(image, section.Offset, section.Size, $"section {section.Index} ({section.Name})");
        if ((section.Flags & CompressedSection.Flag) == 0)
        {
            return stored;
        }

        lock (_decompressed)
        {
            if (!_decompressed.TryGetValue(section.Index, out var data))
            {
                data = CompressedSection.TryDecompress(stored) ?? ReadOnlyMemory<byte>.Empty;
                _decompressed[section.Index] = data;
            }

            return data;
        }
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
