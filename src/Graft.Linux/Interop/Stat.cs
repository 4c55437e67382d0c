using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>struct stat on x86-64 (bits/struct_stat.h), 144 bytes; only the fields Graft reads are named.</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
internal struct Stat
{
    [FieldOffset(0)]
    public ulong st_dev;

    [FieldOffset(8)]
    public ulong st_ino;

    [FieldOffset(24)]
    public uint st_mode;

    [FieldOffset(28)]
    public uint st_uid;

    [FieldOffset(32)]
    public uint st_gid;

    [FieldOffset(48)]
    public long st_size;

    // struct timespec st_mtim.
    [FieldOffset(88)]
    public long st_mtime_sec;

    [FieldOffset(96)]
    public long st_mtime_nsec;
}
