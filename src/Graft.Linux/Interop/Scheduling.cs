using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>sched_getscheduler(2) and sched_setscheduler(2): the scheduling policy of one thread (pid 0: the caller).</summary>
#pragma warning disable CS8981 // the C names are kept on purpose
internal static partial class Scheduling
{
    public const int SCHED_OTHER = 0;
    public const int SCHED_FIFO = 1;

    /// <summary>Or'ed into the policy: a child the thread forks starts under SCHED_OTHER.</summary>
    public const int SCHED_RESET_ON_FORK = 0x40000000;

    /// <summary>struct sched_param of &lt;sched.h&gt;: the priority alone.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sched_param
    {
        public int sched_priority;
    }

    [LibraryImport(LibC.Name, EntryPoint = "sched_getscheduler", SetLastError = true)]
    public static partial int sched_getscheduler(int pid);

    [LibraryImport(LibC.Name, EntryPoint = "sched_setscheduler", SetLastError = true)]
    public static partial int sched_setscheduler(int pid, int policy, in sched_param param);
}
