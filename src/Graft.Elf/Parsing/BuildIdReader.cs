namespace Graft.Elf.Parsing;

internal static class BuildIdReader
{
    public static string? Read(ElfFile elf)
    {
        foreach (ElfSegment note in elf.Segments.Where(s => s.Type == ElfSegmentType.Note))
        {
            ReadOnlyMemory<byte> area = FileRange.Slice(elf.Image, note.Offset, note.FileSize, "PT_NOTE segment");
            if (NoteReader.FindBuildId(area.Span, note.Alignment, "PT_NOTE segment") is { } id)
            {
                return id;
            }
        }

        foreach (ElfSection note in elf.Sections.Where(s => s.Type == ElfSectionType.Note))
        {
            if (NoteReader.FindBuildId(elf.GetSectionData(note).Span, note.Alignment, $"note section {note.Name}") is { } id)
            {
                return id;
            }
        }

        return null;
    }
}
