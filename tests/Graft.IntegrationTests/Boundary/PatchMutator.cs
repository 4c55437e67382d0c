using System.Buffers.Binary;
using System.Text;
using Graft.Elf;

namespace Graft.IntegrationTests.Boundary;

/// <summary>
/// Deterministic mutants of a patch file: cut short, bytes flipped where Graft or the dynamic linker
/// parses (never inside executable segments: that is the author's code, which Graft runs as written),
/// header fields that name another kind of file, and hostile strings where the descriptor's names are.
/// </summary>
internal sealed class PatchMutator
{
    private const int ElfHeaderSize = 64;
    private const int ProgramHeaderSize = 56;
    private const int SectionHeaderSize = 64;

    // Where a long name goes: the unused rest of the page of a read-only segment, which the mutant then extends over it.
    private const int LongNameRoom = 0x100;

    private static readonly string[] FlippedSections =
    [
        ".dynamic", ".dynsym", ".dynstr", ".symtab", ".strtab", ".rela.dyn", ".rela.plt", ".data.rel.ro", ".data",
        ".graft.locals", ".gnu.hash", ".gnu.version", ".gnu.version_r", ".init_array", ".fini_array", ".got", ".rodata",
        ".note.gnu.build-id",
    ];

    private static readonly byte[][] HostileNames =
    [
        "a\nb"u8.ToArray(), "\u001b[31mred\u001b[0m"u8.ToArray(), "\r"u8.ToArray(), [0xff, 0xfe, 0x41], [0xc2, 0x9b, 0x32, 0x4a],
        [0xc3], "tab\there"u8.ToArray(), " "u8.ToArray(), "../../etc"u8.ToArray(), "\u202egnp.exe"u8.ToArray(),
    ];

    private readonly byte[] original;
    private readonly Random random;
    private readonly List<(string Name, int Start, int Length)> regions = [];
    private readonly List<(int Start, int End)> code = [];
    private readonly List<(int AddendOffset, ulong Address, int Length)> names = [];
    private readonly ElfSegment roomSegment;
    private readonly int roomSegmentHeader;

    public PatchMutator(byte[] original, int seed)
    {
        this.original = original;
        random = new Random(seed);
        var elf = ElfFile.Parse(original);
        var phoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(original.AsSpan(0x20));
        var shoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(original.AsSpan(0x28));
        regions.Add(("ELF header", 0, ElfHeaderSize));
        regions.Add(("program headers", phoff, elf.Segments.Count * ProgramHeaderSize));
        regions.Add(("section headers", shoff, elf.Sections.Count * SectionHeaderSize));
        regions.AddRange(elf.Sections.Where(s => FlippedSections.Contains(s.Name) && s.Type != ElfSectionType.NoBits && s.Size > 0)
            .Select(s => (s.Name, (int)s.Offset, (int)s.Size)));
        code.AddRange(elf.Segments.Where(s => s.Type == ElfSegmentType.Load && s.Flags.HasFlag(ElfSegmentFlags.Execute))
            .Select(s => ((int)s.Offset, (int)(s.Offset + s.FileSize))));

        // The descriptor's names: pointers (RELATIVE relocations) into read-only data.
        var relocations = elf.FindSection(".rela.dyn")!;
        var rodata = elf.FindSection(".rodata")!;
        var dynamic = elf.Relocations.Where(r => r.SectionName == ".rela.dyn").ToList();
        for (var i = 0; i < dynamic.Count; i++)
        {
            var r = dynamic[i];
            var target = (ulong)r.Addend;
            if (r.Type == ElfRelocationType.R_X86_64_RELATIVE && target >= rodata.Address && target < rodata.Address + rodata.Size)
            {
                var at = (int)(rodata.Offset + target - rodata.Address);
                names.Add(((int)relocations.Offset + (i * 24) + 16, target, Array.IndexOf(original, (byte)0, at) - at));
            }
        }

        roomSegment = elf.Segments.First(s => s.Type == ElfSegmentType.Load && rodata.Address >= s.VirtualAddress && rodata.Address < s.VirtualAddress + s.FileSize);
        roomSegmentHeader = phoff + (elf.Segments.ToList().IndexOf(roomSegment) * ProgramHeaderSize);
    }

    /// <summary>The next mutant and what was done to it.</summary>
    public (byte[] Bytes, string Description) Next()
    {
        var image = (byte[])original.Clone();
        var kind = random.Next(100);
        var description = kind switch
        {
            < 10 => Truncate(ref image),
            < 72 => Flip(image),
            < 84 => WrongHeader(image),
            _ => HostileName(image),
        };
        return (image, description);
    }

    private string Truncate(ref byte[] image)
    {
        var length = random.Next(image.Length);
        image = image[..length];
        return $"truncated to {length} of {original.Length} bytes";
    }

    private string Flip(byte[] image)
    {
        var (name, start, length) = regions[random.Next(regions.Count)];
        var flips = new List<string>();
        for (var count = 1 + random.Next(4); flips.Count < count;)
        {
            var offset = start + random.Next(length);
            if (code.Any(c => offset >= c.Start && offset < c.End))
            {
                continue;
            }

            var old = image[offset];
            image[offset] ^= (byte)(1 + random.Next(255));
            flips.Add($"0x{offset:x}: 0x{old:x2}->0x{image[offset]:x2}");
        }

        return $"{name} flipped at {string.Join(", ", flips)}";
    }

    private string WrongHeader(byte[] image)
    {
        switch (random.Next(5))
        {
            case 0:
                var type = (ushort)new[] { 0, 1, 2, 4, 0xfe00, random.Next(0x10000) }[random.Next(6)];
                BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(16), type);
                return $"e_type 0x{type:x}";
            case 1:
                var machine = (ushort)new[] { 0, 3, 40, 183, 243, random.Next(0x10000) }[random.Next(6)];
                BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(18), machine);
                return $"e_machine {machine}";
            case 2:
                image[4] = (byte)new[] { 0, 1, 3, random.Next(256) }[random.Next(4)];
                return $"EI_CLASS {image[4]}";
            case 3:
                image[5] = (byte)new[] { 0, 2, 3 }[random.Next(3)];
                return $"EI_DATA {image[5]}";
            default:
                var size = (ushort)new[] { 0, 32, 55, 57, 64, random.Next(0x10000) }[random.Next(6)];
                BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x36), size);
                return $"e_phentsize {size}";
        }
    }

    private string HostileName(byte[] image)
    {
        var (addendOffset, address, length) = names[random.Next(names.Count)];
        if (random.Next(4) == 0)
        {
            return LongName(image, addendOffset, address);
        }

        var hostile = HostileNames[random.Next(HostileNames.Length)];
        var written = hostile.AsSpan(0, Math.Min(hostile.Length, length));
        var at = (int)(address - roomSegment.VirtualAddress + roomSegment.Offset);
        written.CopyTo(image.AsSpan(at));
        image.AsSpan(at + written.Length, length - written.Length).Clear();
        return $"the name at 0x{address:x} became {Describe(written)}";
    }

    /// <summary>A name of hundreds or thousands of bytes in the read-only segment's spare room, the pointer moved to it.</summary>
    private string LongName(byte[] image, int addendOffset, ulong address)
    {
        var length = new[] { 255, 256, 1000, 3000 }[random.Next(4)];
        var start = roomSegment.FileSize + LongNameRoom - (roomSegment.FileSize % LongNameRoom);
        image.AsSpan((int)(roomSegment.Offset + start), length).Fill((byte)('a' + random.Next(26)));
        var end = start + (ulong)length + 1;
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(roomSegmentHeader + 0x20), end);
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(roomSegmentHeader + 0x28), end);
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(addendOffset), roomSegment.VirtualAddress + start);
        return $"the name at 0x{address:x} moved to a {length}-byte name at 0x{roomSegment.VirtualAddress + start:x}";
    }

    private static string Describe(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes) + $" ({Encoding.UTF8.GetString(bytes).Length} chars)";
}
