using Graft.Linux.Seccomp;
using Graft.Model.State;
using static Graft.Linux.Interop.Syscalls;

namespace Graft.Patching.Target;

/// <summary>
/// A system call Graft makes in a target, or makes the target's loader make, with the arguments
/// it has: Graft's own exactly, the loader's as glibc 2.36's dlopen and dlclose issue them
/// (openat, read, newfstatat, mmap of each segment ...; addresses, lengths and descriptors typical).
/// </summary>
internal sealed record SeccompCall(string Name, int Nr, ulong[] Args, string Purpose)
{
    /// <summary>
    /// A call that Graft cancels at its entry stop (orig_rax = -1) still goes through the
    /// filters, with nr -1 (syscall_trace_enter runs seccomp after ptrace). Failing it is what
    /// Graft does anyway, so SECCOMP_RET_ERRNO and SECCOMP_RET_TRACE (ENOSYS: Graft does not
    /// ask for PTRACE_EVENT_SECCOMP) cost nothing; Docker's default profile gives it ERRNO.
    /// </summary>
    public bool Skipped => Nr == -1;

    public SeccompData Data => new(Nr, Args);

    public bool Accepts(SeccompResult result) =>
        result.Runs || (Skipped && result.Action is SeccompAction.Errno or SeccompAction.Trace);
}

/// <summary>Every call of <see cref="SeccompCall"/> an apply, revert or continue may make, in the order it makes them.</summary>
internal static class SeccompCalls
{
    private const int SYS_read = 0, SYS_brk = 12, SYS_pread64 = 17, SYS_openat = 257, SYS_newfstatat = 262;
    private const ulong AT_FDCWD = unchecked((ulong)-100), AT_EMPTY_PATH = 0x1000, O_RDONLY_CLOEXEC = 0x80000;
    private const ulong MAP_FIXED = 0x10, MAP_DENYWRITE = 0x800;
    private const ulong NoFd = ulong.MaxValue;

    // Typical values: a descriptor, a user-space address, a page.
    private const ulong Fd = 3, Address = 0x7f1234560000, Page = 4096, Segment = 0x2000;

    private const string State = "to map its state";
    private const string Run = "to run code in the target";
    private const string Slots = "to map slot pages";
    private const string Load = "to load a patch";
    private const string Unload = "to unload a patch";

    public static readonly IReadOnlyList<SeccompCall> All =
    [
        new("memfd_create", (int)SYS_memfd_create, [Address, MFD_CLOEXEC], State),
        new("ftruncate", (int)SYS_ftruncate, [Fd, StateLayout.Size], State),
        new("mmap", (int)SYS_mmap, [0, StateLayout.Size, PROT_READ | PROT_WRITE, MAP_PRIVATE, Fd, 0], State),
        new("close", (int)SYS_close, [Fd], State),
        new("mprotect", (int)SYS_mprotect, [Address, StateLayout.PageSize, PROT_READ | PROT_EXEC], State),
        new("mmap", (int)SYS_mmap, [0, StateLayout.RecordRegionSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, NoFd, 0], State),
        new("sigaltstack", (int)SYS_sigaltstack, [0, Address], Run),
        new("a skipped system call (nr -1)", -1, [Address, 0, 0, 0, 0, 0], "to return from a function it called in the target"),
        new("rt_sigreturn", (int)SYS_rt_sigreturn, [], "to let a thread return from a call if graft dies during it"),
        new("membarrier", (int)SYS_membarrier, [MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0], "to write code that running threads execute"),
        new("membarrier", (int)SYS_membarrier, [MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0], "to write code that running threads execute"),
        new("mmap", (int)SYS_mmap, [Address, Page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, NoFd, 0], Slots),
        new("munmap", (int)SYS_munmap, [Address, Page], Slots),

        // dlopen: the patch and each library it needs (found on its search path or through
        // /etc/ld.so.cache, which is mapped too), then its segments, its bss, its RELRO, and
        // the holes between segments, if any, made inaccessible.
        new("openat", SYS_openat, [AT_FDCWD, Address, O_RDONLY_CLOEXEC, 0], Load),
        new("read", SYS_read, [Fd, Address, 832], Load),
        new("pread64", SYS_pread64, [Fd, Address, 32, 0x350], Load),
        new("newfstatat", SYS_newfstatat, [Fd, Address, Address, AT_EMPTY_PATH], Load),
        new("newfstatat", SYS_newfstatat, [AT_FDCWD, Address, Address, 0], Load),
        new("mmap", (int)SYS_mmap, [0, Segment, PROT_READ, MAP_PRIVATE, Fd, 0], Load),
        new("mmap", (int)SYS_mmap, [0, Segment, PROT_READ, MAP_PRIVATE | MAP_DENYWRITE, Fd, 0], Load),
        new("mmap", (int)SYS_mmap, [Address, Page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE, Fd, Page], Load),
        new("mmap", (int)SYS_mmap, [Address, Page, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE, Fd, Page], Load),
        new("mmap", (int)SYS_mmap, [Address, Segment, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE, Fd, Page], Load),
        new("mmap", (int)SYS_mmap, [Address, Segment, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, NoFd, 0], Load),
        new("close", (int)SYS_close, [Fd], Load),
        new("mprotect", (int)SYS_mprotect, [Address, Page, PROT_READ], Load),
        new("mprotect", (int)SYS_mprotect, [Address, Page, PROT_NONE], Load),

        // The loader's malloc: the heap, a large block, a thread's first arena.
        new("brk", SYS_brk, [Address], Load),
        new("mmap", (int)SYS_mmap, [0, 0x21000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NoFd, 0], Load),
        new("mmap", (int)SYS_mmap, [0, 0x8000000, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, NoFd, 0], Load),
        new("mprotect", (int)SYS_mprotect, [Address, 0x21000, PROT_READ | PROT_WRITE], Load),

        // dlclose.
        new("munmap", (int)SYS_munmap, [Address, Segment], Unload),

        // A refused first apply takes its state away.
        new("munmap", (int)SYS_munmap, [Address, StateLayout.RecordRegionSize], State),
        new("munmap", (int)SYS_munmap, [Address, StateLayout.Size], State),
    ];
}
