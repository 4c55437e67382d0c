namespace Graft.Linux.Inspection;

/// <summary>One line of /proc/&lt;pid&gt;/maps; <see cref="Device"/> as the kernel writes it ("fe:00"), with the inode it names the file.</summary>
public sealed record MemoryMapping(ulong Start, ulong End, string Permissions, ulong FileOffset, ulong Inode, string Path, string Device = "")
{
    public bool IsReadable => Permissions[0] == 'r';

    public bool IsExecutable => Permissions[2] == 'x';

    /// <summary>A file-backed mapping, as opposed to [heap], [stack], [vdso] or anonymous memory.</summary>
    public bool IsFile => Inode != 0 && Path.StartsWith('/');

    public bool Contains(ulong address) => address >= Start && address < End;
}
