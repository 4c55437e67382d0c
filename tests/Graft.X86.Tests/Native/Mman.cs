using System.Runtime.InteropServices;

namespace Graft.X86.Tests.Native;

/// <summary>libc's mmap, mprotect and munmap, so that the tests can run the code they build.</summary>
internal static partial class Mman
{
    public const int ProtRead = 0x1;
    public const int ProtWrite = 0x2;
    public const int ProtExec = 0x4;

    public const int MapPrivate = 0x02;
    public const int MapAnonymous = 0x20;

    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Map(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    public static partial int Protect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Unmap(nint address, nuint length);
}
