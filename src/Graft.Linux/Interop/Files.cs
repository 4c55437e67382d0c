using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>open/pread/pwrite/close for /proc/&lt;pid&gt;/mem (whose offsets are addresses), fstat/stat, realpath, flock/ftruncate for lock files, and write for stdout and stderr.</summary>
internal static partial class Files
{
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_NOCTTY = 0x100;
    public const int O_NONBLOCK = 0x800;
    public const int O_CREAT = 0x40;
    public const int O_CLOEXEC = 0x80000;

    // flock operations (sys/file.h).
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;

    // st_mode bits (sys/stat.h).
    public const uint S_IFMT = 0xf000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_ISVTX = 0x200;
    public const uint S_IWGRP = 0x10;
    public const uint S_IWOTH = 0x2;

    [LibraryImport(LibC.Name, EntryPoint = "fstat", SetLastError = true)]
    public static partial int fstat(int fd, out Stat buffer);

    [LibraryImport(LibC.Name, EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int stat(string path, out Stat buffer);

    [LibraryImport(LibC.Name, EntryPoint = "geteuid")]
    public static partial uint geteuid();

    [LibraryImport(LibC.Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    /// <summary>open(2) with O_CREAT: <paramref name="mode"/> is the new file's permissions.</summary>
    [LibraryImport(LibC.Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, uint mode);

    [LibraryImport(LibC.Name, EntryPoint = "flock", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport(LibC.Name, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport(LibC.Name, EntryPoint = "pread64", SetLastError = true)]
    public static unsafe partial nint pread(int fd, byte* buffer, nint count, long offset);

    [LibraryImport(LibC.Name, EntryPoint = "pwrite64", SetLastError = true)]
    public static unsafe partial nint pwrite(int fd, byte* buffer, nint count, long offset);

    [LibraryImport(LibC.Name, EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport(LibC.Name, EntryPoint = "close", SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>realpath(3) with a NULL buffer: the result is malloc'ed and must be freed with free().</summary>
    [LibraryImport(LibC.Name, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint realpath(string path, nint resolved);

    [LibraryImport(LibC.Name, EntryPoint = "free")]
    public static partial void free(nint pointer);
}
