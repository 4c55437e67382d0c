namespace Graft.Elf.Parsing;

/// <summary>The fields of Elf64_Ehdr that the rest of the reader needs, after checking that this is an
/// object we support (64-bit, little-endian, x86-64).</summary>
internal sealed record ElfHeader(
    ElfKind Kind,
    ulong ProgramHeaderOffset,
    int ProgramHeaderEntrySize,
    int ProgramHeaderCount,
    ulong SectionHeaderOffset,
    int SectionHeaderEntrySize,
    int SectionHeaderCount,
    int SectionNameTableIndex)
{
    public const int Size = 64;
    private const byte ElfClass64 = 2;
    private const byte LittleEndian = 1;
    private const ushort MachineX86_64 = 62;

    public static ElfHeader Read(ReadOnlySpan<byte> image)
    {
        if (image.Length < 4 || !image[..4].SequenceEqual("\x7f"u8 + "ELF"u8))
        {
            throw new ElfFormatException("not an ELF file");
        }

        if (image.Length > 4 && image[4] != ElfClass64)
        {
            throw new ElfFormatException(
                $"unsupported ELF class {image[4]} ({(image[4] == 1 ? "32-bit" : "unknown")}); only 64-bit x86-64 objects are supported");
        }

        if (image.Length > 5 && image[5] != LittleEndian)
        {
            throw new ElfFormatException(
                $"unsupported ELF data encoding {image[5]} ({(image[5] == 2 ? "big-endian" : "unknown")}); only little-endian x86-64 objects are supported");
        }

        if (image.Length < Size)
        {
            throw new ElfFormatException($"ELF header truncated: {image.Length} of {Size} bytes");
        }

        var reader = new ByteReader(image[..Size], "ELF header", 16);
        ushort type = reader.U16();
        ushort machine = reader.U16();
        if (machine != MachineX86_64)
        {
            throw new ElfFormatException($"unsupported ELF machine {machine}; only x86-64 ({MachineX86_64}) is supported");
        }

        reader.Position = 0x20;
        ulong phoff = reader.U64();
        ulong shoff = reader.U64();
        reader.Position = 0x36;
        ushort phentsize = reader.U16();
        ushort phnum = reader.U16();
        ushort shentsize = reader.U16();
        ushort shnum = reader.U16();
        ushort shstrndx = reader.U16();

        ElfKind kind = type switch
        {
            1 => ElfKind.Relocatable,
            2 => ElfKind.Executable,
            3 => ElfKind.SharedObject,
            _ => ElfKind.Other,
        };
        return new ElfHeader(kind, phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx);
    }
}
