using System.Text;
using Graft.Elf.Parsing;

namespace Graft.Elf.Dwarf.Info;

/// <summary>Reads or skips one attribute value by its DW_FORM (DWARF 5, section 7.5.6, and the GNU extensions gcc emits).</summary>
internal sealed class FormReader(int offsetSize, int addressSize, DebugInfoReader.Strings strings)
{
    public string? String(ref ByteReader reader, ulong form)
    {
        switch (form)
        {
            case 0x08: // string
                return Encoding.UTF8.GetString(reader.NulTerminated());
            case 0x0e: // strp
                return DebugInfoReader.Strings.At(strings.Str, Offset(ref reader), ".debug_str");
            case 0x1f: // line_strp
                return DebugInfoReader.Strings.At(strings.LineStr, Offset(ref reader), ".debug_line_str");
            default:
                Skip(ref reader, form);
                return null;
        }
    }

    /// <summary>A reference as a .debug_info section offset; 0 for one into another file (supplementary, type units).</summary>
    public ulong Reference(ref ByteReader reader, ulong form, ulong unitStart)
    {
        return form switch
        {
            0x11 => unitStart + reader.U8(),
            0x12 => unitStart + reader.U16(),
            0x13 => unitStart + reader.U32(),
            0x14 => unitStart + reader.U64(),
            0x15 => unitStart + reader.Uleb128(),
            0x10 => Offset(ref reader),
            _ => SkipAndNone(ref reader, form),
        };
    }

    public void Skip(ref ByteReader reader, ulong form)
    {
        switch (form)
        {
            case 0x08: // string
                reader.NulTerminated();
                break;
            case 0x0d: // sdata
                reader.Sleb128();
                break;
            case 0x0f or 0x15 or 0x1a or 0x1b or 0x22 or 0x23 or 0x1f01 or 0x1f02: // udata, ref_udata, strx, addrx, loclistx, rnglistx, GNU indices
                reader.Uleb128();
                break;
            case 0x16: // indirect: the form comes first
                Skip(ref reader, reader.Uleb128());
                break;
            // The length is read first: "reader.Position += reader.U16()" would add it to the position before the read.
            case 0x03: // block2
                SkipBytes(ref reader, reader.U16());
                break;
            case 0x04: // block4
                SkipBytes(ref reader, reader.U32());
                break;
            case 0x0a: // block1
                SkipBytes(ref reader, reader.U8());
                break;
            case 0x09 or 0x18: // block, exprloc
                SkipBytes(ref reader, reader.Uleb128());
                break;
            default:
                reader.Position += FixedSize(form);
                break;
        }
    }

    private static void SkipBytes(ref ByteReader reader, ulong count) => reader.Position = checked(reader.Position + (int)count);

    private int FixedSize(ulong form) => form switch
    {
        0x01 => addressSize,
        0x0b or 0x0c or 0x11 or 0x25 or 0x29 => 1,
        0x05 or 0x12 or 0x26 or 0x2a => 2,
        0x27 or 0x2b => 3,
        0x06 or 0x13 or 0x1c or 0x28 or 0x2c => 4,
        0x07 or 0x14 or 0x20 or 0x24 => 8,
        0x1e => 16,
        0x0e or 0x10 or 0x17 or 0x1d or 0x1f or 0x1f20 or 0x1f21 => offsetSize,
        0x19 or 0x21 => 0,
        _ => throw new ElfFormatException($".debug_info uses form 0x{form:x}, which graft does not know"),
    };

    private ulong SkipAndNone(ref ByteReader reader, ulong form)
    {
        Skip(ref reader, form);
        return 0;
    }

    private ulong Offset(ref ByteReader reader) => offsetSize == 8 ? reader.U64() : reader.U32();
}
