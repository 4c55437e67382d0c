using Graft.Linux.Inspection;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Reads and writes another process's memory through /proc/&lt;pid&gt;/mem. Writes go through
/// page protections (the kernel uses FOLL_FORCE), which is how code in r-x pages is rewritten;
/// process_vm_writev cannot do that.
/// </summary>
public sealed class RemoteMemory : IMemory, IDisposable
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

    public unsafe void Write(ulong address, ReadOnlySpan<byte> source)
    {
        fixed (byte* buffer = source)
        {
            Transfer(address, buffer, source.Length, write: true);
        }
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
