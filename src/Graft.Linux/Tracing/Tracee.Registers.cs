using Graft.Linux.Interop;
using Graft.Linux.Seccomp;

namespace Graft.Linux.Tracing;

/// <summary>
/// Register, extended-state, signal-mask and seccomp-filter access for stopped threads: checked
/// here, done by <see cref="ThreadRegisters"/> and <see cref="SeccompFilterReader"/>.
/// </summary>
public sealed partial class Tracee
{
    public UserRegs GetRegisters(int tid)
    {
        RequireStopped(tid);
        return registers.Read(tid);
    }

    public void SetRegisters(int tid, UserRegs regs)
    {
        RequireStopped(tid);
        registers.Write(tid, regs);
    }

    /// <summary>The thread's XSAVE area (x87, SSE, AVX ... state), to put back after running code on it.</summary>
    public byte[] GetExtendedState(int tid)
    {
        RequireStopped(tid);
        return registers.ReadExtendedState(tid);
    }

    public void SetExtendedState(int tid, byte[] state)
    {
        RequireStopped(tid);
        registers.WriteExtendedState(tid, state);
    }

    /// <summary>The signal mask of a thread Graft creates for itself (<see cref="InjectedCode.AgentSignalMask"/>).</summary>
    public const ulong AgentSignalMask = InjectedCode.AgentSignalMask;

    public ulong GetSignalMask(int tid)
    {
        RequireStopped(tid);
        return registers.ReadSignalMask(tid);
    }

    public void SetSignalMask(int tid, ulong mask)
    {
        RequireStopped(tid);
        registers.WriteSignalMask(tid, mask);
    }

    /// <summary>
    /// The thread's seccomp filters, oldest first (PTRACE_SECCOMP_GET_FILTER, which needs
    /// CAP_SYS_ADMIN and a tracer not itself under seccomp). A thread not in filter mode, or a
    /// kernel without the request, is an <see cref="ErrnoException"/> (EINVAL, EIO), as is a
    /// filter that is no classic BPF (EMEDIUMTYPE).
    /// </summary>
    public IReadOnlyList<SeccompFilter> GetSeccompFilters(int tid)
    {
        RequireStopped(tid);
        return SeccompFilterReader.Read(Pid, tid, threads);
    }

    internal void RequireStopped(int tid)
    {
        if (!Get(tid).IsStopped)
        {
            throw new InvalidOperationException($"thread {tid} must be stopped first");
        }
    }
}
