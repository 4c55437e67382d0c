namespace Graft.Elf.Parsing;

/// <summary>The object's memory image as its PT_LOAD segments lay it out: file bytes up to p_filesz,
/// zeros from there to p_memsz.</summary>
internal sealed class LoadImage
{
    private const ulong PageSize = 4096;

    private readonly ReadOnlyMemory<byte> _image;
    private readonly ElfSegment[] _loads;

    public LoadImage(ReadOnlyMemory<byte> image, IReadOnlyList<ElfSegment> segments)
    {
        _image = image;
        _loads = segments.Where(s => s.Type == ElfSegmentType.Load && s.MemorySize > 0).ToArray();
        LowestAddress = _loads.Length == 0 ? 0 : _loads.Min(s => s.VirtualAddress) & ~(PageSize - 1);
    }

    public ulong LowestAddress { get; }

    /// <summary>Copies the image bytes at <paramref name="address"/>; on false the destination may be partly written.</summary>
    public bool TryRead(ulong address, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            ElfSegment? segment = Containing(address);
            if (segment is null)
            {
                return false;
            }

            ulong inSegment = address - segment.VirtualAddress;
            int count = (int)Math.Min((ulong)destination.Length, segment.MemorySize - inSegment);
            Span<byte> chunk = destination[..count];
            chunk.Clear();
            if (inSegment < segment.FileSize)
            {
                int fromFile = (int)Math.Min((ulong)count, segment.FileSize - inSegment);
                _image.Span.Slice((int)(segment.Offset + inSegment), fromFile).CopyTo(chunk);
            }

            destination = destination[count..];
            address += (ulong)count;
        }

        return true;
    }

    /// <summary>The file bytes behind [address, address + size), when they lie in one segment's file part.</summary>
    public ReadOnlyMemory<byte>? TryGetFileBytes(ulong address, ulong size)
    {
        ElfSegment? segment = Containing(address);
        if (segment is null)
        {
            return null;
        }

        ulong inSegment = address - segment.VirtualAddress;
        if (inSegment > segment.FileSize || size > segment.FileSize - inSegment)
        {
            return null;
        }

        return _image.Slice((int)(segment.Offset + inSegment), (int)size);
    }

    /// <summary>The file bytes from <paramref name="address"/> to the end of its segment's file part.</summary>
    public ReadOnlyMemory<byte>? TryGetFileBytesToSegmentEnd(ulong address)
    {
        ElfSegment? segment = Containing(address);
        return segment is null || address - segment.VirtualAddress > segment.FileSize
            ? null
            : TryGetFileBytes(address, segment.FileSize - (address - segment.VirtualAddress));
    }

    private ElfSegment? Containing(ulong address)
    {
        foreach (ElfSegment segment in _loads)
        {
            if (address >= segment.VirtualAddress && address - segment.VirtualAddress < segment.MemorySize)
            {
                return segment;
            }
        }

        return null;
    }
}
