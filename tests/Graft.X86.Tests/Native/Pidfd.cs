using System.Runtime.InteropServices;

namespace Graft.X86.Tests.Native;

/// <summary>pidfd_open and close, for the loader stub's check that graftd lives.</summary>
internal static partial class Pidfd
{
    private const long SysPidfdOpen = 434;

    public static int Open(int pid)
    {
        var fd = (int)Syscall(SysPidfdOpen, pid, 0);
        return fd >= 0 ? fd : throw new InvalidOperationException($"pidfd_open({pid}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long first, long second);
}
