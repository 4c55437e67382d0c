using Graft.Elf.Dwarf.Info;

namespace Graft.Elf.Dwarf;

/// <summary>
/// Where the compiler copied functions into their callers, read from an object's DWARF (.debug_info): every
/// DW_TAG_inlined_subroutine, by the function it copies and the function it was inlined into. Such copies keep the old
/// code whatever a patch of the function does.
/// </summary>
public sealed class InlinedCopies
{
    private const ulong TagInlinedSubroutine = 0x1d;
    private const int MaxOriginChain = 8;

    private readonly ILookup<string, string> callersByFunction;

    private InlinedCopies(ILookup<string, string> callersByFunction)
    {
        this.callersByFunction = callersByFunction;
    }

    /// <summary>The object's inlined copies; null when neither it nor its separate debug file has .debug_info.</summary>
    /// <exception cref="ElfFormatException">The debug information is malformed.</exception>
    public static InlinedCopies? Read(ElfFile elf)
    {
        ArgumentNullException.ThrowIfNull(elf);
        elf = elf.DwarfFile();
        if (elf.FindSection(".debug_info") is not { } info)
        {
            return null;
        }

        if (info.Size > 0 && elf.GetSectionData(info).IsEmpty)
        {
            throw new ElfFormatException(".debug_info is compressed in a way graft does not read (zstd), or its stream is damaged");
        }

        List<DebugInfoEntry> entries;
        try
        {
            entries = DebugInfoReader.Read(elf);
        }
        catch (OverflowException e)
        {
            throw new ElfFormatException($".debug_info: a length or offset is out of range ({e.Message})");
        }

        var byOffset = new Dictionary<ulong, DebugInfoEntry>();
        foreach (var entry in entries)
        {
            byOffset[entry.Offset] = entry;
        }

        return new InlinedCopies(entries
            .Where(e => e.Tag == TagInlinedSubroutine)
            .Select(e => (Function: NameOf(byOffset, e.Origin), Caller: NameOf(byOffset, e.EnclosingSubprogram) ?? "(unnamed)"))
            .Where(e => e.Function is not null)
            .ToLookup(e => e.Function!, e => e.Caller));
    }

    /// <summary>The functions holding inlined copies of <paramref name="function"/>, with how many each.</summary>
    public IReadOnlyDictionary<string, int> CallersOf(string function) =>
        callersByFunction[function].GroupBy(c => c).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());

    private static string? NameOf(Dictionary<ulong, DebugInfoEntry> byOffset, ulong offset)
    {
        for (int step = 0; step < MaxOriginChain && offset != 0 && byOffset.TryGetValue(offset, out var entry); step++)
        {
            if (entry.Name is not null)
            {
                return entry.Name;
            }

            offset = entry.Origin;
        }

        return null;
    }
}
