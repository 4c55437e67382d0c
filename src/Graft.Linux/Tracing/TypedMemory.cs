using System.Buffers.Binary;
using System.Text;

namespace Graft.Linux.Tracing;

/// <summary>Values of a target's memory (little-endian, as on x86-64), over any <see cref="IMemory"/>.</summary>
public static class TypedMemory
{
    public static byte[] Read(this IMemory memory, ulong address, int length)
    {
        var bytes = new byte[length];
        memory.Read(address, bytes);
        return bytes;
    }

    public static uint ReadUInt32(this IMemory memory, ulong address)
    {
        Span<byte> bytes = stackalloc byte[4];
        memory.Read(address, bytes);
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    public static ulong ReadUInt64(this IMemory memory, ulong address)
    {
        Span<byte> bytes = stackalloc byte[8];
        memory.Read(address, bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    public static void WriteUInt32(this IMemory memory, ulong address, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        memory.Write(address, bytes);
    }

    public static void WriteUInt64(this IMemory memory, ulong address, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        memory.Write(address, bytes);
    }

    /// <summary>Reads a NUL-terminated string of at most <paramref name="maxLength"/> bytes.</summary>
    public static string ReadCString(this IMemory memory, ulong address, int maxLength = 4096)
    {
        var bytes = new List<byte>();
        Span<byte> chunk = stackalloc byte[64];
        while (bytes.Count < maxLength)
        {
            // Stay inside the page: the string may end right before an unmapped one.
            var toPageEnd = (int)(4096 - ((address + (ulong)bytes.Count) & 4095));
            var part = chunk[..Math.Min(chunk.Length, toPageEnd)];
            memory.Read(address + (ulong)bytes.Count, part);
            var end = part.IndexOf((byte)0);
            if (end >= 0)
            {
                bytes.AddRange(part[..end]);
                return Encoding.UTF8.GetString([.. bytes]);
            }

            bytes.AddRange(part);
        }

        throw new RemoteMemoryException($"no string end within {maxLength} bytes at 0x{address:x}");
    }
}
