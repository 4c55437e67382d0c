using System.Buffers.Binary;

namespace Graft.Elf.Parsing;

/// <summary>
/// Symbol versions as glibc reads them: it follows vn_next, vna_next and vd_next until a zero,
/// and indexes its version array by every DT_VERSYM entry without a bound.
/// </summary>
internal static class VersionCheck
{
    private const long VerSym = 0x6ffffff0;
    private const long VerDef = 0x6ffffffc;
    private const long VerNeed = 0x6ffffffe;
    private const int MaxEntries = 1 << 16;

    public static void Run(LoadedImage image, IReadOnlyList<ElfDynamicEntry> entries, DynamicStrings strings, ulong symbolCount)
    {
        ulong? Value(long tag) => entries.LastOrDefault(e => e.Tag == tag)?.Value;
        var highest = 0;
        if (Value(VerNeed) is { } need)
        {
            highest = Walk(image, need, 16, 12, "DT_VERNEED", (entry, at) =>
            {
                strings.Name(BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]), "a DT_VERNEED file name");
                var most = 0;
                Walk(image, at + BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]), 16, 12, "a DT_VERNEED entry", (aux, _) =>
                {
                    strings.Name(BinaryPrimitives.ReadUInt32LittleEndian(aux[8..]), "a DT_VERNEED version name");
                    return most = Math.Max(most, BinaryPrimitives.ReadUInt16LittleEndian(aux[6..]) & 0x7fff);
                });
                return most;
            });
        }

        if (Value(VerDef) is { } definitions)
        {
            highest = Math.Max(highest, Walk(image, definitions, 20, 16, "DT_VERDEF", (entry, at) =>
            {
                var aux = image.RequireFile(at + BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]), 8, "a DT_VERDEF name");
                strings.Name(BinaryPrimitives.ReadUInt32LittleEndian(aux), "a DT_VERDEF version name");
                return BinaryPrimitives.ReadUInt16LittleEndian(entry[4..]) & 0x7fff;
            }));
        }

        if (Value(VerSym) is { } versions)
        {
            // Without version definitions glibc has no version array at all, and DT_VERSYM indexes a null one.
            if (highest == 0)
            {
                throw new ElfFormatException("DT_VERSYM comes without DT_VERNEED or DT_VERDEF");
            }

            var table = image.RequireFile(versions, symbolCount * 2, "DT_VERSYM");
            for (var i = 0; i < (int)symbolCount; i++)
            {
                var index = BinaryPrimitives.ReadUInt16LittleEndian(table[(i * 2)..]) & 0x7fff;
                if (index > highest)
                {
                    throw new ElfFormatException($"DT_VERSYM gives symbol {i} version {index}, which no DT_VERNEED or DT_VERDEF defines");
                }
            }
        }
    }

    /// <summary>Visits a chain of entries linked by the 32-bit offset at <paramref name="nextAt"/>; the largest of the visits' results.</summary>
    private static int Walk(LoadedImage image, ulong start, ulong size, int nextAt, string name, Func<byte[], ulong, int> visit)
    {
        var highest = 0;
        var at = start;
        for (var count = 0; count < MaxEntries; count++)
        {
            var entry = image.RequireFile(at, size, name).ToArray();
            highest = Math.Max(highest, visit(entry, at));
            var next = BinaryPrimitives.ReadUInt32LittleEndian(entry.AsSpan(nextAt));
            if (next == 0)
            {
                return highest;
            }

            at += next;
        }

        throw new ElfFormatException($"{name} has more than {MaxEntries} entries");
    }
}
