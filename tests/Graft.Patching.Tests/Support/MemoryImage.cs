using Graft.Linux.Tracing;

namespace Graft.Patching.Tests.Support;

/// <summary>
/// A target's memory as regions of bytes at its addresses, the rest unmapped: what the code
/// under test reads and writes instead of a live process. Touching a byte outside every region
/// throws <see cref="RemoteMemoryException"/>, as <see cref="RemoteMemory"/> does.
/// </summary>
internal sealed class MemoryImage : IMemory
{
    private readonly List<(ulong Start, byte[] Bytes)> regions = [];

    /// <summary>Maps <paramref name="length"/> zero bytes at <paramref name="address"/>; returns them, to be filled or checked.</summary>
    public byte[] Map(ulong address, int length) => Map(address, new byte[length]);

    /// <summary>Maps <paramref name="bytes"/> themselves at <paramref name="address"/>: later writes land in the array.</summary>
    public byte[] Map(ulong address, byte[] bytes)
    {
        if (regions.Any(r => address < r.Start + (ulong)r.Bytes.Length && r.Start < address + (ulong)bytes.Length))
        {
            throw new ArgumentException($"0x{address:x} overlaps a region already mapped", nameof(address));
        }

        regions.Add((address, bytes));
        return bytes;
    }

    public void Read(ulong address, Span<byte> destination)
    {
        for (var done = 0; done < destination.Length;)
        {
            var (region, offset) = Find(address, done, destination.Length, "read");
            var count = Math.Min(destination.Length - done, region.Length - offset);
            region.AsSpan(offset, count).CopyTo(destination[done..]);
            done += count;
        }
    }

    public void Write(ulong address, ReadOnlySpan<byte> source)
    {
        for (var done = 0; done < source.Length;)
        {
            var (region, offset) = Find(address, done, source.Length, "write");
            var count = Math.Min(source.Length - done, region.Length - offset);
            source.Slice(done, count).CopyTo(region.AsSpan(offset));
            done += count;
        }
    }

    /// <summary>The region holding byte <paramref name="done"/> of an access, which may go on into the next region.</summary>
    private (byte[] Region, int Offset) Find(ulong address, int done, int length, string access)
    {
        var at = address + (ulong)done;
        foreach (var (start, bytes) in regions)
        {
            if (at >= start && at < start + (ulong)bytes.Length)
            {
                return (bytes, (int)(at - start));
            }
        }

        throw new RemoteMemoryException($"cannot {access} {length} bytes at 0x{address:x} in the image: 0x{at:x} is not mapped");
    }
}
