using System.Buffers.Binary;
using System.Text;
using Graft.Linux.Inspection;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Reads and writes another process's memory through /proc/&lt;pid&gt;/mem. Writes go through
/// page protections (the kernel uses FOLL_FORCE), which is how code in r-x pages is rewritten;
/// process_vm_writev cannot do that.
/// </summary>
public sealed class RemoteMemory : IDisposable
{
    private readonly int pid;
    private int fd = -1;

    public RemoteMemory(int pid) => this.pid = pid;

    public unsafe void Read(ulong address, Span<byte> destination)
    {
        fixed (byte* buffer = destination)
        {
            Transfer(address, buffer, destination.Length, write: false);
        }
    }

    public byte[] Read(ulong address, int length)
    {
        var bytes = new byte[length];
        Read(address, bytes);
        return bytes;
    }

    public unsafe void Write(ulong address, ReadOnlySpan<byte> source)
    {
        fixed (byte* buffer = source)
        {
            Transfer(address, buffer, source.Length, write: true);
        }
    }

    public uint ReadUInt32(ulong address)
    {
        Span<byte> bytes = stackalloc byte[4];
        Read(address, bytes);
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    public ulong ReadUInt64(ulong address)
    {
        Span<byte> bytes = stackalloc byte[8];
        Read(address, bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    public void WriteUInt64(ulong address, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        Write(address, bytes);
    }

    /// <summary>Reads a NUL-terminated string of at most <paramref name="maxLength"/> bytes.</summary>
    public string ReadCString(ulong address, int maxLength = 4096)
    {
        var bytes = new List<byte>();
        Span<byte> chunk = stackalloc byte[64];
        while (bytes.Count < maxLength)
        {
            // Stay inside the page: the string may end right before an unmapped one.
            var toPageEnd = (int)(4096 - ((address + (ulong)bytes.Count) & 4095));
            var part = chunk[..Math.Min(chunk.Length, toPageEnd)];
            Read(address + (ulong)bytes.Count, part);
            var end = part.IndexOf((byte)0);
            if (end >= 0)
            {
                bytes.AddRange(part[..end]);
                return Encoding.UTF8.GetString([.. bytes]);
            }

            bytes.AddRange(part);
        }

        throw new RemoteMemoryException($"no string end within {maxLength} bytes at 0x{address:x} in process {pid}");
    }

    private unsafe void Transfer(ulong address, byte* buffer, int length, bool write)
    {
        var handle = Open();
        var done = 0;
        while (done < length)
        {
            var offset = (long)(address + (ulong)done);
            var count = write
                ? Files.pwrite(handle, buffer + done, length - done, offset)
                : Files.pread(handle, buffer + done, length - done, offset);
            if (count <= 0)
            {
                var reason = count == 0 ? "end of memory" : ErrnoException.FromLastError("").Message.TrimStart(':', ' ');
                throw new RemoteMemoryException(
                    $"cannot {(write ? "write" : "read")} {length} bytes at 0x{address:x} in process {pid}: {reason}");
            }

            done += (int)count;
        }
    }

    private int Open()
    {
        if (fd < 0)
        {
            fd = Files.open($"{ProcDirectory.Of(pid)}/mem", Files.O_RDWR | Files.O_CLOEXEC);
            if (fd < 0)
            {
                throw ErrnoException.FromLastError($"open(/proc/{pid}/mem)");
            }
        }

        return fd;
    }

    public void Dispose()
    {
        if (fd >= 0)
        {
            Files.close(fd);
            fd = -1;
        }
    }
}
