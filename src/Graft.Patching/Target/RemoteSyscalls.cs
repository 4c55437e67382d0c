using Graft.Linux.Interop;
using Graft.Linux.Tracing;

namespace Graft.Patching.Target;

/// <summary>
/// The system calls graft makes the target run, each on a thread the caller holds stopped,
/// typed: a failure is one <see cref="GraftException"/> naming the call and its errno, except
/// where the caller handles an errno itself (<see cref="TryMmap"/>).
/// </summary>
internal sealed class RemoteSyscalls(Tracee tracee)
{
    /// <summary>A memfd named by the string at <paramref name="name"/>; executable whatever vm.memfd_noexec says, where the kernel knows MFD_EXEC (6.3 on).</summary>
    public int MemfdCreate(int tid, ulong name, ulong flags, bool executable = false)
    {
        if (executable && tracee.InjectSyscall(tid, Syscalls.SYS_memfd_create, name, flags | Syscalls.MFD_EXEC) is var result and not -Syscalls.EINVAL)
        {
            return (int)Checked(result, "memfd_create");
        }

        return (int)Checked(tracee.InjectSyscall(tid, Syscalls.SYS_memfd_create, name, flags), "memfd_create");
    }

    public void Ftruncate(int tid, int fd, ulong length) =>
        Checked(tracee.InjectSyscall(tid, Syscalls.SYS_ftruncate, (ulong)fd, length), "ftruncate");

    /// <summary>Adds the seals to a memfd (fcntl F_ADD_SEALS).</summary>
    public void AddSeals(int tid, int fd, ulong seals) =>
        Checked(tracee.InjectSyscall(tid, Syscalls.SYS_fcntl, (ulong)fd, Syscalls.F_ADD_SEALS, seals), "fcntl(F_ADD_SEALS)");

    /// <summary>Closes a descriptor; its result is not checked, as nothing graft does depends on it.</summary>
    public void Close(int tid, int fd) => tracee.InjectSyscall(tid, Syscalls.SYS_close, (ulong)fd);

    public ulong Mmap(int tid, ulong address, ulong length, ulong protection, ulong flags, ulong fd, ulong offset) =>
        (ulong)Checked(TryMmap(tid, address, length, protection, flags, fd, offset), "mmap");

    /// <summary>mmap's raw result: the address, or minus the errno.</summary>
    public long TryMmap(int tid, ulong address, ulong length, ulong protection, ulong flags, ulong fd, ulong offset) =>
        tracee.InjectSyscall(tid, Syscalls.SYS_mmap, address, length, protection, flags, fd, offset);

    public void Mprotect(int tid, ulong address, ulong length, ulong protection) =>
        Checked(tracee.InjectSyscall(tid, Syscalls.SYS_mprotect, address, length, protection), "mprotect");

    public void Munmap(int tid, ulong address, ulong length) =>
        Checked(tracee.InjectSyscall(tid, Syscalls.SYS_munmap, address, length), "munmap");

    /// <summary>Names the thread itself (prctl PR_SET_NAME) with the string at <paramref name="name"/>.</summary>
    public void SetName(int tid, ulong name) =>
        Checked(tracee.InjectSyscall(tid, Syscalls.SYS_prctl, Syscalls.PR_SET_NAME, name), "prctl(PR_SET_NAME)");

    public void Membarrier(int tid, ulong command) =>
        Checked(tracee.InjectSyscall(tid, Syscalls.SYS_membarrier, command, 0, 0), $"membarrier({command})");

    /// <summary>pidfd_open(<paramref name="pid"/>, 0), as the target's pid namespace names it: the descriptor, or minus the errno.</summary>
    public long TryPidfdOpen(int tid, int pid) => tracee.InjectSyscall(tid, Syscalls.SYS_pidfd_open, (ulong)pid, 0);

    /// <summary>socket(<paramref name="domain"/>, <paramref name="type"/>, 0): the descriptor, or minus the errno.</summary>
    public long TrySocket(int tid, ulong domain, ulong type) => tracee.InjectSyscall(tid, Syscalls.SYS_socket, domain, type, 0);

    /// <summary>connect() with the address at <paramref name="address"/>: 0, or minus the errno.</summary>
    public long TryConnect(int tid, int fd, ulong address, ulong length) => tracee.InjectSyscall(tid, Syscalls.SYS_connect, (ulong)fd, address, length);

    /// <summary>getsockopt() into <paramref name="value"/>, its length in and out at <paramref name="length"/>: 0, or minus the errno.</summary>
    public long TryGetsockopt(int tid, int fd, ulong level, ulong name, ulong value, ulong length) =>
        tracee.InjectSyscall(tid, Syscalls.SYS_getsockopt, (ulong)fd, level, name, value, length);

    /// <summary>rt_sigaction with the kernel's struct sigaction at <paramref name="action"/> / <paramref name="oldAction"/> (0 for none); true if it succeeded.</summary>
    public bool RtSigaction(int tid, ulong signal, ulong action, ulong oldAction, ulong sigsetSize) =>
        tracee.InjectSyscall(tid, Syscalls.SYS_rt_sigaction, signal, action, oldAction, sigsetSize) == 0;

    private long Checked(long result, string call) => Syscalls.Failed(result)
        ? throw new GraftException(GraftFailure.Internal, $"{call} inside process {tracee.Pid} failed with errno {-result} ({Errno.Name((int)-result)})")
        : result;
}
