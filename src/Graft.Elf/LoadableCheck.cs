using System.Buffers.Binary;
using Graft.Elf.Parsing;

namespace Graft.Elf;

/// <summary>
/// What glibc's loader takes on trust in a shared object it maps: it adds the load bias to every
/// address in the program headers and the dynamic section and reads or writes there unchecked, so
/// a file that passes this check cannot make dlopen touch memory outside the object's own image,
/// and one that does not is refused before it reaches a process.
/// </summary>
public static class LoadableCheck
{
    private const ulong PageSize = 4096;

    // Far above any patch; below it an mmap of the whole image cannot exhaust a target's address space.
    private const ulong MaxImageSpan = 1UL << 30;

    /// <exception cref="ElfFormatException">The loader would read or write outside the image, or run something that is not code.</exception>
    public static void Run(ElfFile elf)
    {
        ArgumentNullException.ThrowIfNull(elf);
        var loads = CheckLoads(elf.Segments);
        var image = new LoadedImage(elf, loads);
        foreach (var segment in elf.Segments.Where(s => s.Type is not (ElfSegmentType.Load or ElfSegmentType.GnuStack)))
        {
            image.RequireFile(segment.VirtualAddress, segment.FileSize, $"segment of type 0x{segment.Type:x}");
            if (!image.Holds(segment.VirtualAddress, segment.MemorySize, ElfSegmentFlags.None))
            {
                throw new ElfFormatException($"segment of type 0x{segment.Type:x} at 0x{segment.VirtualAddress:x} reaches past its PT_LOAD");
            }

            var load = image.LoadAt(segment.VirtualAddress);
            if (segment.FileSize > 0 && segment.Offset - segment.VirtualAddress != load.Offset - load.VirtualAddress)
            {
                throw new ElfFormatException($"segment of type 0x{segment.Type:x} at 0x{segment.VirtualAddress:x} does not hold the file bytes its PT_LOAD maps there");
            }
        }

        if (!elf.Segments.Any(s => s.Type == ElfSegmentType.Dynamic))
        {
            throw new ElfFormatException("no PT_DYNAMIC segment");
        }

        DynamicCheck.Run(elf, image);
    }

    /// <summary>The PT_LOAD segments, checked as glibc maps them: in address order, apart, each at a page-aligned offset.</summary>
    private static List<ElfSegment> CheckLoads(IReadOnlyList<ElfSegment> segments)
    {
        var loads = segments.Where(s => s.Type == ElfSegmentType.Load).ToList();
        if (loads.Count == 0)
        {
            throw new ElfFormatException("no PT_LOAD segment");
        }

        for (var i = 0; i < loads.Count; i++)
        {
            var load = loads[i];
            if ((load.VirtualAddress - load.Offset) % PageSize != 0 || (load.Alignment > 1 && (load.VirtualAddress - load.Offset) % load.Alignment != 0))
            {
                throw new ElfFormatException($"PT_LOAD at 0x{load.VirtualAddress:x} is not aligned with its file offset 0x{load.Offset:x}");
            }

            if (i > 0 && load.VirtualAddress < loads[i - 1].VirtualAddress + loads[i - 1].MemorySize)
            {
                throw new ElfFormatException($"PT_LOAD at 0x{load.VirtualAddress:x} overlaps or precedes the one before it");
            }
        }

        if (loads[^1].VirtualAddress + loads[^1].MemorySize - loads[0].VirtualAddress > MaxImageSpan)
        {
            throw new ElfFormatException($"the PT_LOAD segments span more than {MaxImageSpan >> 20} MiB");
        }

        return loads;
    }
}

/// <summary>The loadable image for the checks: which PT_LOAD holds an address range, and its file bytes.</summary>
internal sealed class LoadedImage(ElfFile elf, IReadOnlyList<ElfSegment> loads)
{
    public ElfFile Elf => elf;

    public ElfSegment LoadAt(ulong address) =>
        loads.FirstOrDefault(l => address >= l.VirtualAddress && address - l.VirtualAddress < Math.Max(l.MemorySize, 1))
        ?? throw new ElfFormatException($"address 0x{address:x} is in no PT_LOAD segment");

    /// <summary>The file bytes of [address, address + size), which must lie in the file part of one PT_LOAD.</summary>
    public ReadOnlySpan<byte> RequireFile(ulong address, ulong size, string what)
    {
        var load = loads.FirstOrDefault(l => address >= l.VirtualAddress && address - l.VirtualAddress <= l.FileSize
            && size <= l.FileSize - (address - l.VirtualAddress));
        return load is null
            ? throw new ElfFormatException($"{what} (0x{address:x}, 0x{size:x} bytes) is not in the file part of a PT_LOAD segment")
            : elf.Image.Span.Slice((int)(load.Offset + address - load.VirtualAddress), (int)size);
    }

    /// <summary>[address, address + size) lies in the memory of one PT_LOAD with all the given flags.</summary>
    public bool Holds(ulong address, ulong size, ElfSegmentFlags flags) =>
        loads.Any(l => l.Flags.HasFlag(flags) && address >= l.VirtualAddress && address - l.VirtualAddress <= l.MemorySize
            && size <= l.MemorySize - (address - l.VirtualAddress));

    public ulong ReadUInt64(ulong address) => BinaryPrimitives.ReadUInt64LittleEndian(RequireFile(address, 8, "a pointer"));
}
