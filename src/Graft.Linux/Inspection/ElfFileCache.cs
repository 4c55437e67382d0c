using Graft.Elf;
using Graft.Linux.Interop;

namespace Graft.Linux.Inspection;

/// <summary>
/// Parsed ELF files by the identity of the file read (device, inode, size, modification time),
/// shared by every <see cref="ModuleMap"/> read after one another of a process. A library that a
/// program loads and unloads again and again is read and parsed once; one replaced at the same
/// path (a new inode) or rewritten in place (a new size or mtime) is a new entry, read again.
/// </summary>
public sealed class ElfFileCache
{
    // Files no longer mapped stay for when they come back; the oldest go first beyond this.
    private const int Capacity = 64;

    private readonly Dictionary<FileIdentity, ElfFile> files = [];
    private readonly Queue<FileIdentity> order = [];
    private readonly Lock gate = new();

    /// <summary>The object read from <paramref name="path"/>; stripped, its symbols come from the debug file of the
    /// object at <paramref name="objectPath"/> (<see cref="SeparateDebugFile"/>: where it was installed, or beside it).</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="ElfFormatException">The file is not an ELF object we support.</exception>
    public ElfFile Load(string path, string objectPath)
    {
        // Identity and bytes come from the same open file, so an entry never pairs one file's
        // identity with another's content.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
        if (Files.fstat((int)stream.SafeFileHandle.DangerousGetHandle(), out var status) != 0)
        {
            throw new IOException(ErrnoException.FromLastError($"fstat({path})").Message);
        }

        var identity = new FileIdentity(status.st_dev, status.st_ino, status.st_size, status.st_mtime_sec, status.st_mtime_nsec);
        lock (gate)
        {
            if (files.TryGetValue(identity, out var known))
            {
                return known;
            }
        }

        var elf = ElfFile.Parse(ReadAll(stream), parsed => SeparateDebugFile.Find(parsed, objectPath));
        lock (gate)
        {
            if (files.TryAdd(identity, elf))
            {
                order.Enqueue(identity);
                while (order.Count > Capacity)
                {
                    files.Remove(order.Dequeue());
                }
            }
        }

        return elf;
    }

    private static byte[] ReadAll(FileStream stream)
    {
        // A file that shrinks meanwhile ends the read early: EndOfStreamException, an IOException.
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private readonly record struct FileIdentity(ulong Device, ulong Inode, long Size, long ModifiedSeconds, long ModifiedNanoseconds);
}
