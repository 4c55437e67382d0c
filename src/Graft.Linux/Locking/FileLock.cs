using System.Globalization;
using System.Text;
using Graft.Linux.Interop;

namespace Graft.Linux.Locking;

/// <summary>
/// An exclusive flock(2) on a file, held while this object lives, with the holder's pid written in the file so that a
/// process that finds it taken can say who holds it. The kernel lets go of it when the holder exits, however it exits:
/// a lock left by a process that was killed holds nobody back. The file stays when the lock is let go: removing it
/// would let one process lock the old file while another creates and locks a new one.
/// </summary>
public sealed class FileLock : IDisposable
{
    private readonly int fd;

    private FileLock(int fd) => this.fd = fd;

    /// <summary>
    /// Takes the lock on <paramref name="path"/> (created if missing), or returns null when another process holds it;
    /// <paramref name="holder"/> is then that process's pid, if it has written it yet.
    /// </summary>
    /// <exception cref="ErrnoException">The file cannot be created or opened, or locked for another reason.</exception>
    public static FileLock? TryTake(string path, out int? holder)
    {
        holder = null;
        var fd = Files.open(path, Files.O_RDWR | Files.O_CREAT | Files.O_CLOEXEC, 0b110_100_100);
        if (fd < 0)
        {
            throw ErrnoException.FromLastError($"open {path}");
        }

        if (Files.flock(fd, Files.LOCK_EX | Files.LOCK_NB) != 0)
        {
            var error = ErrnoException.FromLastError($"flock {path}");
            if (error.Errno == Errno.EAGAIN)
            {
                holder = ReadPid(fd);
            }

            Files.close(fd);
            return error.Errno == Errno.EAGAIN ? null : throw error;
        }

        var pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        if (Files.ftruncate(fd, 0) != 0 || Write(fd, pid) != pid.Length)
        {
            var error = ErrnoException.FromLastError($"write {path}");
            Files.close(fd);
            throw error;
        }

        return new FileLock(fd);
    }

    private static unsafe nint Write(int fd, byte[] bytes)
    {
        fixed (byte* start = bytes)
        {
            return Files.pwrite(fd, start, bytes.Length, 0);
        }
    }

    private static unsafe int? ReadPid(int fd)
    {
        var buffer = new byte[16];
        nint read;
        fixed (byte* start = buffer)
        {
            read = Files.pread(fd, start, buffer.Length, 0);
        }

        return read > 0 && int.TryParse(Encoding.ASCII.GetString(buffer, 0, (int)read).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid
            : null;
    }

    /// <summary>Closing the descriptor lets go of the lock.</summary>
    public void Dispose() => Files.close(fd);
}
