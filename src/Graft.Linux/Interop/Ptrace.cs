using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>ptrace(2) with the request, option and event numbers of &lt;sys/ptrace.h&gt; on x86-64.</summary>
internal static partial class Ptrace
{
    public const int PTRACE_CONT = 7;
    public const int PTRACE_SINGLESTEP = 9;
    public const int PTRACE_SYSCALL = 24;
    public const int PTRACE_GETREGS = 12;
    public const int PTRACE_SETREGS = 13;
    public const int PTRACE_DETACH = 17;
    public const int PTRACE_SETOPTIONS = 0x4200;
    public const int PTRACE_GETEVENTMSG = 0x4201;
    public const int PTRACE_GETSIGINFO = 0x4202;
    public const int PTRACE_GETREGSET = 0x4204;
    public const int PTRACE_SETREGSET = 0x4205;
    public const int PTRACE_SEIZE = 0x4206;
    public const int PTRACE_INTERRUPT = 0x4207;
    public const int PTRACE_LISTEN = 0x4208;
    public const int PTRACE_GETSIGMASK = 0x420a;
    public const int PTRACE_SETSIGMASK = 0x420b;
    public const int PTRACE_SECCOMP_GET_FILTER = 0x420c;

    public const int PTRACE_O_TRACESYSGOOD = 0x1;
    public const int PTRACE_O_TRACEFORK = 0x2;
    public const int PTRACE_O_TRACEVFORK = 0x4;
    public const int PTRACE_O_TRACECLONE = 0x8;
    public const int PTRACE_O_TRACEEXEC = 0x10;

    public const int PTRACE_EVENT_FORK = 1;
    public const int PTRACE_EVENT_VFORK = 2;
    public const int PTRACE_EVENT_CLONE = 3;
    public const int PTRACE_EVENT_EXEC = 4;
    public const int PTRACE_EVENT_STOP = 128;

    /// <summary>si_code of a SIGTRAP raised by the kernel itself, as for an int3 (&lt;asm-generic/siginfo.h&gt;).</summary>
    public const int SI_KERNEL = 0x80;

    /// <summary>The regset note type of the XSAVE area (&lt;elf.h&gt; NT_X86_XSTATE).</summary>
    public const int NT_X86_XSTATE = 0x202;

    // glibc declares ptrace variadic; on x86-64 the four integer arguments travel in the same
    // registers either way, and the wrapper reads exactly these four.
    [LibraryImport(LibC.Name, EntryPoint = "ptrace", SetLastError = true)]
    public static partial long ptrace(long request, int pid, nint addr, nint data);
}
