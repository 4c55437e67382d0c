using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>waitpid(2) with the flags Graft needs to see every thread of a tracee.</summary>
internal static partial class Wait
{
    public const int WNOHANG = 1;

    /// <summary>Wait for clone children too: without it, threads other than the leader are invisible.</summary>
    public const int __WALL = 0x40000000;

    /// <summary>Only the calling thread's own children and tracees, not those of the other threads of its process.</summary>
    public const int __WNOTHREAD = 0x20000000;

    [LibraryImport(LibC.Name, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int waitpid(int pid, out int status, int options);
}
