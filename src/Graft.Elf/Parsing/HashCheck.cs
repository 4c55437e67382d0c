using System.Buffers.Binary;

namespace Graft.Elf.Parsing;

/// <summary>
/// DT_GNU_HASH and DT_HASH, which glibc indexes without bounds on every symbol lookup that
/// passes through the object; they also give the number of dynamic symbols.
/// </summary>
internal static class HashCheck
{
    private const ulong MaxCount = 1 << 24;

    public static ulong SymbolCount(LoadedImage image, ulong? gnuHash, ulong? hash)
    {
        // glibc uses DT_GNU_HASH when there is one; DT_HASH is then never read.
        if (gnuHash is { } gnu)
        {
            return Gnu(image, gnu);
        }

        return hash is { } sysv ? SysV(image, sysv) : throw new ElfFormatException("the dynamic section has neither DT_GNU_HASH nor DT_HASH");
    }

    private static ulong Gnu(LoadedImage image, ulong table)
    {
        var header = image.RequireFile(table, 16, "DT_GNU_HASH");
        ulong buckets = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong first = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        ulong bloom = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (buckets == 0 || buckets > MaxCount || bloom == 0 || bloom > MaxCount || (bloom & (bloom - 1)) != 0 || first > MaxCount)
        {
            throw new ElfFormatException($"DT_GNU_HASH has {buckets} buckets, a bloom filter of {bloom} words and first symbol {first}");
        }

        var bucketStart = table + 16 + (bloom * 8);
        var bucketBytes = image.RequireFile(bucketStart, buckets * 4, "DT_GNU_HASH buckets");
        var chains = bucketStart + (buckets * 4);
        var count = first;
        for (var b = 0; b < (int)buckets; b++)
        {
            ulong symbol = BinaryPrimitives.ReadUInt32LittleEndian(bucketBytes[(b * 4)..]);
            if (symbol == 0)
            {
                continue;
            }

            if (symbol < first)
            {
                throw new ElfFormatException($"DT_GNU_HASH bucket {b} starts at symbol {symbol}, below the first hashed symbol {first}");
            }

            // A chain ends at the entry whose low bit is set.
            for (; ; symbol++)
            {
                var entry = BinaryPrimitives.ReadUInt32LittleEndian(image.RequireFile(chains + ((symbol - first) * 4), 4, "a DT_GNU_HASH chain"));
                if ((entry & 1) != 0 || symbol > MaxCount)
                {
                    break;
                }
            }

            count = Math.Max(count, symbol + 1);
        }

        return count;
    }

    private static ulong SysV(LoadedImage image, ulong table)
    {
        var header = image.RequireFile(table, 8, "DT_HASH");
        ulong buckets = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong chains = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (buckets == 0 || buckets > MaxCount || chains > MaxCount)
        {
            throw new ElfFormatException($"DT_HASH has {buckets} buckets and {chains} chain entries");
        }

        var words = image.RequireFile(table + 8, (buckets + chains) * 4, "DT_HASH");
        for (var i = 0; i < (int)(buckets + chains); i++)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(words[(i * 4)..]) >= chains)
            {
                throw new ElfFormatException($"DT_HASH names symbol {BinaryPrimitives.ReadUInt32LittleEndian(words[(i * 4)..])} of {chains}");
            }
        }

        return chains;
    }
}
