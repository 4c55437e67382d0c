using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>kcmp(2), which glibc does not wrap: whether two processes share a kernel resource, here their address space.</summary>
#pragma warning disable CS8981 // the C names are kept on purpose
internal static partial class Kcmp
{
    public const long SYS_kcmp = 312;
    public const int KCMP_VM = 1;

    /// <summary>0 if the two share it; 1 or 2 for an order; -1 with errno set on failure (ESRCH: one is gone).</summary>
    public static int kcmp(int pid1, int pid2, int type) => (int)syscall(SYS_kcmp, pid1, pid2, type, 0, 0);

    [LibraryImport(LibC.Name, EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall(long number, long pid1, long pid2, long type, long index1, long index2);
}
