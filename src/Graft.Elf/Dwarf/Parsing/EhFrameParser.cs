using Graft.Elf.Parsing;

namespace Graft.Elf.Dwarf.Parsing;

/// <summary>Splits .eh_frame into CIEs and FDEs (LSB 5.0 "Exception Frames").</summary>
internal static class EhFrameParser
{
    private const uint Dwarf64Escape = 0xffffffff;

    public static List<FrameDescription> Parse(ReadOnlyMemory<byte> section, ulong sectionAddress)
    {
        var cies = new Dictionary<int, CommonInformationEntry>();
        var fdes = new List<FrameDescription>();
        var reader = new ByteReader(section.Span, ".eh_frame");
        while (!reader.AtEnd)
        {
            int start = reader.Position;
            ulong length = reader.U32();
            if (length == 0)
            {
                break;
            }

            bool is64 = length == Dwarf64Escape;
            if (is64)
            {
                length = reader.U64();
            }

            if (length > (ulong)reader.Remaining)
            {
                throw new ElfFormatException(
                    $".eh_frame entry at offset 0x{start:x} has length 0x{length:x}, past the end of the section ({reader.Remaining} bytes left)");
            }

            int end = reader.Position + (int)length;
            var entry = new ByteReader(section.Span[..end], ".eh_frame", reader.Position);
            int idPosition = entry.Position;
            ulong id = is64 ? entry.U64() : entry.U32();
            if (id == 0)
            {
                cies[start] = CieParser.Parse(ref entry, section, sectionAddress, start);
            }
            else
            {
                CommonInformationEntry cie = FindCie(cies, idPosition, id, start);
                fdes.Add(ParseFde(ref entry, section, sectionAddress, start, cie));
            }

            reader.Position = end;
        }

        return fdes;
    }

    // In .eh_frame the CIE pointer is the distance back from the pointer field itself.
    private static CommonInformationEntry FindCie(Dictionary<int, CommonInformationEntry> cies, int idPosition, ulong id, int start)
    {
        if (id <= (ulong)idPosition && cies.TryGetValue(idPosition - (int)id, out CommonInformationEntry? cie))
        {
            return cie;
        }

        throw new ElfFormatException($".eh_frame FDE at offset 0x{start:x} points to 0x{(long)idPosition - (long)id:x}, which is not a CIE");
    }

    private static FrameDescription ParseFde(
        ref ByteReader entry,
        ReadOnlyMemory<byte> section,
        ulong sectionAddress,
        int start,
        CommonInformationEntry cie)
    {
        ulong initialLocation = PointerEncoding.Read(ref entry, cie.FdeEncoding, sectionAddress + (ulong)entry.Position);
        ulong range = PointerEncoding.ReadValue(ref entry, cie.FdeEncoding);
        if (range > ulong.MaxValue - initialLocation)
        {
            throw new ElfFormatException($".eh_frame FDE at offset 0x{start:x} covers 0x{initialLocation:x} + 0x{range:x}, past the end of the address space");
        }

        if (cie.HasAugmentationData)
        {
            entry.Bytes(entry.Uleb128Length());
        }

        ReadOnlyMemory<byte> instructions = section[entry.Position..entry.Length];
        return new FrameDescription(cie, start, initialLocation, range, instructions, sectionAddress + (ulong)entry.Position);
    }
}
