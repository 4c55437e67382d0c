using Graft.Elf.Parsing;

namespace Graft.Elf.Dwarf.Parsing;

/// <summary>DW_EH_PE_* pointer encodings as used in .eh_frame and .eh_frame_hdr.</summary>
internal static class PointerEncoding
{
    public const byte Omit = 0xff;
    private const byte Indirect = 0x80;
    private const byte FormatMask = 0x0f;
    private const byte ApplicationMask = 0x70;
    private const byte Absolute = 0x00;
    private const byte PcRelative = 0x10;
    private const byte DataRelative = 0x30;

    /// <summary>Reads an encoded pointer and applies its base. Indirect pointers are refused: a file
    /// reader cannot follow them, and code addresses (FDE ranges, DW_CFA_set_loc) never use them.</summary>
    /// <param name="fieldAddress">Run-time address of the encoded field, the base of pcrel.</param>
    /// <param name="dataBase">Base of datarel, when the context defines one (.eh_frame_hdr does).</param>
    public static ulong Read(ref ByteReader reader, byte encoding, ulong fieldAddress, ulong? dataBase = null)
    {
        if ((encoding & Indirect) != 0)
        {
            throw new ElfFormatException($"indirect pointer encoding 0x{encoding:x2} is not supported here");
        }

        ulong value = ReadValue(ref reader, encoding);
        return (encoding & ApplicationMask) switch
        {
            Absolute => value,
            PcRelative => unchecked(fieldAddress + value),
            DataRelative when dataBase is { } data => unchecked(data + value),
            _ => throw new ElfFormatException($"unsupported pointer encoding 0x{encoding:x2} (application 0x{encoding & ApplicationMask:x2})"),
        };
    }

    /// <summary>Reads the value in the encoding's format without applying any base: FDE address ranges,
    /// and pointers that are only skipped (personality routine).</summary>
    public static ulong ReadValue(ref ByteReader reader, byte encoding)
    {
        return (encoding & FormatMask) switch
        {
            0x00 => reader.U64(),
            0x01 => reader.Uleb128(),
            0x02 => reader.U16(),
            0x03 => reader.U32(),
            0x04 => reader.U64(),
            0x09 => unchecked((ulong)reader.Sleb128()),
            0x0a => unchecked((ulong)reader.S16()),
            0x0b => unchecked((ulong)reader.S32()),
            0x0c => unchecked((ulong)reader.S64()),
            _ => throw new ElfFormatException($"unsupported pointer encoding 0x{encoding:x2} (format 0x{encoding & FormatMask:x})"),
        };
    }
}
