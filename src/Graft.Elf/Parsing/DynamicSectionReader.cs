namespace Graft.Elf.Parsing;

internal static class DynamicSectionReader
{
    private const int EntrySize = 16;

    /// <summary>Entries up to (not including) DT_NULL, or to the end of the area if it has none.</summary>
    public static IReadOnlyList<ElfDynamicEntry> Read(ReadOnlySpan<byte> area)
    {
        var entries = new List<ElfDynamicEntry>();
        var reader = new ByteReader(area, "dynamic section");
        while (reader.Remaining >= EntrySize)
        {
            long tag = reader.S64();
            ulong value = reader.U64();
            if (tag == ElfDynamicTag.Null)
            {
                break;
            }

            entries.Add(new ElfDynamicEntry(tag, value));
        }

        return entries;
    }

    public static string? ReadSoname(IReadOnlyList<ElfDynamicEntry> entries, LoadImage loadImage) =>
        ReadStrings(entries, loadImage, ElfDynamicTag.Soname, "DT_SONAME") is [var soname, ..] ? soname : null;

    /// <summary>The names of the DT_NEEDED entries, in their order.</summary>
    public static IReadOnlyList<string> ReadNeeded(IReadOnlyList<ElfDynamicEntry> entries, LoadImage loadImage) =>
        ReadStrings(entries, loadImage, ElfDynamicTag.Needed, "DT_NEEDED");

    private static List<string> ReadStrings(IReadOnlyList<ElfDynamicEntry> entries, LoadImage loadImage, long tag, string tagName)
    {
        var offsets = entries.Where(e => e.Tag == tag).Select(e => e.Value).ToList();
        if (offsets.Count == 0)
        {
            return [];
        }

        ulong table = entries.FirstOrDefault(e => e.Tag == ElfDynamicTag.StrTab)?.Value
            ?? throw new ElfFormatException($"{tagName} is present but DT_STRTAB is missing");
        ulong size = entries.FirstOrDefault(e => e.Tag == ElfDynamicTag.StrSize)?.Value
            ?? throw new ElfFormatException($"{tagName} is present but DT_STRSZ is missing");
        ReadOnlyMemory<byte> bytes = loadImage.TryGetFileBytes(table, size)
            ?? throw new ElfFormatException($"dynamic string table (DT_STRTAB 0x{table:x}, DT_STRSZ 0x{size:x}) is not in the file part of a PT_LOAD segment");
        var strings = new StringTable(bytes, "the dynamic string table");
        return [.. offsets.Select(strings.Get)];
    }
}
