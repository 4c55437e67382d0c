using System.Text;

using Graft.Elf.Parsing;

namespace Graft.Elf.Dwarf.Parsing;

internal static class CieParser
{
    private const int MaxRegister = CfiInterpreter.MaxRegister;

    /// <summary>Parses a CIE body; <paramref name="entry"/> stands just after the CIE id and ends with the entry.</summary>
    public static CommonInformationEntry Parse(ref ByteReader entry, ReadOnlyMemory<byte> section, ulong sectionAddress, int start)
    {
        byte version = entry.U8();
        if (version is not (1 or 3 or 4))
        {
            throw new ElfFormatException($".eh_frame CIE at offset 0x{start:x} has unsupported version {version}");
        }

        string augmentation = Encoding.ASCII.GetString(entry.NulTerminated());
        if (version == 4)
        {
            byte addressSize = entry.U8();
            byte segmentSize = entry.U8();
            if (addressSize != 8 || segmentSize != 0)
            {
                throw new ElfFormatException($".eh_frame CIE at offset 0x{start:x} has address size {addressSize} and segment size {segmentSize}; expected 8 and 0");
            }
        }

        ulong codeAlignment = entry.Uleb128();
        long dataAlignment = entry.Sleb128();
        ulong returnAddress = version == 1 ? entry.U8() : entry.Uleb128();
        if (returnAddress > MaxRegister)
        {
            throw new ElfFormatException($".eh_frame CIE at offset 0x{start:x} names return address register {returnAddress}, beyond {MaxRegister}");
        }

        (byte fdeEncoding, bool signal) = ReadAugmentation(ref entry, augmentation, start);
        ReadOnlyMemory<byte> instructions = section[entry.Position..entry.Length];
        return new CommonInformationEntry(
            start,
            codeAlignment,
            dataAlignment,
            (int)returnAddress,
            fdeEncoding,
            augmentation.StartsWith('z'),
            signal,
            instructions,
            sectionAddress + (ulong)entry.Position);
    }

    private static (byte FdeEncoding, bool Signal) ReadAugmentation(ref ByteReader entry, string augmentation, int start)
    {
        const byte absolute = 0x00;
        if (augmentation.Length == 0)
        {
            return (absolute, false);
        }

        if (augmentation[0] != 'z')
        {
            throw new ElfFormatException($".eh_frame CIE at offset 0x{start:x} has unsupported augmentation \"{augmentation}\"");
        }

        int dataLength = entry.Uleb128Length();
        var data = new ByteReader(entry.Bytes(dataLength), $".eh_frame CIE at offset 0x{start:x} augmentation data");
        byte fdeEncoding = absolute;
        bool signal = false;
        foreach (char c in augmentation.AsSpan(1))
        {
            switch (c)
            {
                case 'R':
                    fdeEncoding = data.U8();
                    break;
                case 'L':
                    data.U8();
                    break;
                case 'P':
                    byte personalityEncoding = data.U8();
                    if (personalityEncoding != PointerEncoding.Omit)
                    {
                        PointerEncoding.ReadValue(ref data, personalityEncoding);
                    }

                    break;
                case 'S':
                    signal = true;
                    break;
                default:
                    // 'z' tells us the data length, so letters we do not know can be skipped as a whole.
                    return (fdeEncoding, signal);
            }
        }

        return (fdeEncoding, signal);
    }
}
