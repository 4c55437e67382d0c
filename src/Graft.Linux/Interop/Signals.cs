using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>Signal numbers of x86-64 Linux that the tracer tells apart.</summary>
internal static partial class Signals
{
    public const int SIGILL = 4;
    public const int SIGTRAP = 5;
    public const int SIGABRT = 6;
    public const int SIGBUS = 7;
    public const int SIGFPE = 8;
    public const int SIGKILL = 9;
    public const int SIGSEGV = 11;
    public const int SIGSTOP = 19;
    public const int SIGTSTP = 20;
    public const int SIGTTIN = 21;
    public const int SIGTTOU = 22;

    [LibraryImport(LibC.Name, EntryPoint = "kill", SetLastError = true)]
    public static partial int kill(int pid, int signal);

    /// <summary>struct sigaction of glibc's &lt;signal.h&gt; (152 bytes; glibc fills in sa_restorer).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct struct_sigaction
    {
        public nint sa_handler;
        public fixed ulong sa_mask[16];
        public int sa_flags;
        public nint sa_restorer;
    }

    [LibraryImport(LibC.Name, EntryPoint = "sigaction", SetLastError = true)]
    public static partial int sigaction(int signum, in struct_sigaction act, nint oldact);
}
