using Graft.Elf.Dwarf;
using Graft.Elf.Dwarf.Parsing;

namespace Graft.Elf.Parsing;

/// <summary>Finds .eh_frame: by section name, or without section headers through PT_GNU_EH_FRAME, whose
/// .eh_frame_hdr starts with a pointer to it (LSB 5.0, "The .eh_frame_hdr section").</summary>
internal static class EhFrameLocator
{
    private const byte HeaderVersion = 1;

    public static EhFrameTable? Locate(ElfFile elf, LoadImage loadImage)
    {
        ElfSection? section = elf.FindSection(".eh_frame");
        if (section is not null)
        {
            return section.Type == ElfSectionType.NoBits ? null : EhFrameTable.Parse(elf.GetSectionData(section), section.Address);
        }

        ElfSegment? header = elf.Segments.FirstOrDefault(s => s.Type == ElfSegmentType.GnuEhFrame);
        if (header is null || elf.Sections.Count > 0)
        {
            return null;
        }

        ulong ehFrameAddress = ReadEhFramePointer(elf, header);
        ReadOnlyMemory<byte> data = loadImage.TryGetFileBytesToSegmentEnd(ehFrameAddress)
            ?? throw new ElfFormatException($".eh_frame_hdr points to 0x{ehFrameAddress:x}, which is not in the file part of a PT_LOAD segment");
        return EhFrameTable.Parse(data, ehFrameAddress);
    }

    private static ulong ReadEhFramePointer(ElfFile elf, ElfSegment header)
    {
        ReadOnlyMemory<byte> bytes = FileRange.Slice(elf.Image, header.Offset, header.FileSize, "PT_GNU_EH_FRAME segment");
        var reader = new ByteReader(bytes.Span, ".eh_frame_hdr");
        byte version = reader.U8();
        if (version != HeaderVersion)
        {
            throw new ElfFormatException($".eh_frame_hdr has version {version}, expected {HeaderVersion}");
        }

        byte pointerEncoding = reader.U8();
        reader.U8();
        reader.U8();
        return PointerEncoding.Read(ref reader, pointerEncoding, header.VirtualAddress + (ulong)reader.Position, header.VirtualAddress);
    }
}
