using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>
/// timer_create(2) and timer_settime(2) with SIGEV_THREAD_ID: a one-shot timer that sends a
/// signal to one thread, which ends a blocking system call of that thread with EINTR.
/// </summary>
#pragma warning disable CS8981 // the C names are kept on purpose
internal static partial class Timers
{
    public const int CLOCK_MONOTONIC = 1;
    public const int SIGEV_THREAD_ID = 4;

    /// <summary>struct sigevent of &lt;signal.h&gt; (64 bytes); the thread id is the first member of its union.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    public struct sigevent
    {
        [FieldOffset(0)]
        public ulong sigev_value;

        [FieldOffset(8)]
        public int sigev_signo;

        [FieldOffset(12)]
        public int sigev_notify;

        [FieldOffset(16)]
        public int sigev_notify_thread_id;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct timespec
    {
        public long tv_sec;
        public long tv_nsec;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct itimerspec
    {
        public timespec it_interval;
        public timespec it_value;
    }

    [LibraryImport(LibC.Name, EntryPoint = "timer_create", SetLastError = true)]
    public static partial int timer_create(int clockid, in sigevent sevp, out nint timerid);

    [LibraryImport(LibC.Name, EntryPoint = "timer_settime", SetLastError = true)]
    public static partial int timer_settime(nint timerid, int flags, in itimerspec new_value, nint old_value);

    [LibraryImport(LibC.Name, EntryPoint = "timer_delete", SetLastError = true)]
    public static partial int timer_delete(nint timerid);
}
