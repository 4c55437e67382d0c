using Graft.Linux.Interop;

namespace Graft.Linux.Inspection;

/// <summary>
/// A file as the kernel tells files apart: its device, written as /proc/&lt;pid&gt;/maps writes it
/// ("fe:00"), and its inode. Two paths, or a path and a mapping, are the same file when these are.
/// </summary>
public readonly record struct FileIdentity(string Device, ulong Inode)
{
    /// <summary>The file <paramref name="path"/> names now, links followed.</summary>
    /// <exception cref="IOException">It cannot be reached.</exception>
    public static FileIdentity Of(string path)
    {
        if (Files.stat(path, out var status) != 0)
        {
            throw new IOException(ErrnoException.FromLastError($"stat({path})").Message);
        }

        // glibc's dev_t packing (gnu_dev_major, gnu_dev_minor); the kernel prints both in hex.
        var device = status.st_dev;
        var major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfffUL);
        var minor = (device & 0xff) | ((device >> 12) & ~0xffUL);
        return new FileIdentity($"{major:x2}:{minor:x2}", status.st_ino);
    }

    /// <summary>Whether <paramref name="mapping"/> maps this file.</summary>
    public bool IsMappedBy(MemoryMapping mapping) => mapping.IsFile && mapping.Inode == Inode && mapping.Device == Device;
}
