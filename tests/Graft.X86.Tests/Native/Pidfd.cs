using System.Runtime.InteropServices;

namespace Graft.X86.Tests.Native;

/// <summary>pidfd_open and close, for the loader stub's check that graftd lives.</summary>
internal static partial class Pidfd
{
    private const long SysPidfdOpen = 434;
    private const int FDupfdCloexec = 1030;

    public static int Open(int pid)
    {
        var fd = (int)Syscall(SysPidfdOpen, pid, 0);
        return fd >= 0 ? fd : throw new InvalidOperationException($"pidfd_open({pid}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// A pidfd numbered <paramref name="minimum"/> or above. Closed, its number stays free: an open in another test
    /// running meanwhile takes the lowest free number, where one closed low down could be taken again at once.
    /// </summary>
    public static int OpenAbove(int pid, int minimum)
    {
        var fd = Open(pid);
        var high = Fcntl(fd, FDupfdCloexec, minimum);
        Close(fd);
        return high >= 0 ? high : throw new InvalidOperationException($"fcntl(F_DUPFD_CLOEXEC, {minimum}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long first, long second);
}
