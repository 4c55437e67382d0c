namespace Graft.Linux.Interop;

/// <summary>
/// x86-64 system call numbers and flags of the calls Graft runs inside a target or recognises
/// there, with their C names (&lt;asm/unistd_64.h&gt;, &lt;sys/mman.h&gt;).
/// </summary>
public static class Syscalls
{
    public const long SYS_close = 3;
    public const long SYS_mmap = 9;
    public const long SYS_mprotect = 10;
    public const long SYS_munmap = 11;
    public const long SYS_rt_sigaction = 13;
    public const long SYS_rt_sigreturn = 15;
    public const long SYS_pause = 34;
    public const long SYS_socket = 41;
    public const long SYS_connect = 42;
    public const long SYS_getsockopt = 55;
    public const long SYS_exit = 60;
    public const long SYS_fcntl = 72;
    public const long SYS_ftruncate = 77;
    public const long SYS_sigaltstack = 131;
    public const long SYS_prctl = 157;
    public const long SYS_futex = 202;

    /// <summary>What the kernel runs to restart a call interrupted with -ERESTART_RESTARTBLOCK, from the thread's restart block.</summary>
    public const long SYS_restart_syscall = 219;
    public const long SYS_exit_group = 231;
    public const long SYS_memfd_create = 319;
    public const long SYS_membarrier = 324;
    public const long SYS_pidfd_open = 434;

    public const ulong PROT_NONE = 0;
    public const ulong PROT_READ = 1;
    public const ulong PROT_WRITE = 2;
    public const ulong PROT_EXEC = 4;
    public const ulong MAP_PRIVATE = 0x2;
    public const ulong MAP_ANONYMOUS = 0x20;
    public const ulong MAP_NORESERVE = 0x4000;
    public const ulong MAP_FIXED_NOREPLACE = 0x100000;
    public const ulong SA_SIGINFO = 4;
    public const ulong SA_RESTORER = 0x04000000;
    public const ulong SA_ONSTACK = 0x08000000;
    public const ulong MFD_CLOEXEC = 1;
    public const ulong MFD_ALLOW_SEALING = 2;
    public const ulong MFD_EXEC = 0x10;
    public const long EINVAL = 22;
    public const ulong F_ADD_SEALS = 1033;
    public const ulong F_SEAL_SEAL = 1;
    public const ulong F_SEAL_SHRINK = 2;
    public const ulong F_SEAL_GROW = 4;
    public const ulong F_SEAL_WRITE = 8;

    // <sys/socket.h>: the Unix stream socket graftd's loader stub calls back on, and its cookie.
    public const ulong AF_UNIX = 1;
    public const ulong SOCK_STREAM = 1;
    public const ulong SOCK_CLOEXEC = 0x80000;
    public const ulong SOL_SOCKET = 1;
    public const ulong SO_COOKIE = 57;

    // <linux/prctl.h>: the calling thread's name (comm), at most 15 bytes and a NUL.
    public const ulong PR_SET_NAME = 15;

    // <linux/membarrier.h>: "sync cores" for code written while threads run (Graft.Patching's CodeWriter).
    public const ulong MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 5;
    public const ulong MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 6;

    // <linux/futex.h>: the operation is the command ORed with FUTEX_PRIVATE_FLAG (128) and
    // FUTEX_CLOCK_REALTIME (256); FUTEX_CMD_MASK keeps the command.
    public const ulong FUTEX_WAIT = 0;
    public const ulong FUTEX_WAKE = 1;
    public const ulong FUTEX_CMD_MASK = ~(128UL | 256UL);

    public const long EEXIST = 17;

    /// <summary>rax at a syscall-entry stop: the kernel sets -ENOSYS there; the exit-stop holds the result.</summary>
    public const ulong RaxAtEntry = unchecked((ulong)-Errno.ENOSYS);

    /// <summary>A raw syscall result from -4095 to -1 is a negated errno; anything else is a value.</summary>
    public static bool Failed(long result) => result is < 0 and > -4096;
}
