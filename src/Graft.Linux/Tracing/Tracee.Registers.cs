using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>Register, extended-state and signal-mask access for stopped threads.</summary>
public sealed partial class Tracee
{
    // Large enough for every XSAVE layout of this architecture, AMX tiles included.
    private const int XStateBufferSize = 16384;

    public UserRegs GetRegisters(int tid)
    {
        RequireStopped(tid);
        return ReadRegisters(tid);
    }

    /// <summary>Registers of a thread in any ptrace-stop, including the stops of code Graft runs on it.</summary>
    private unsafe UserRegs ReadRegisters(int tid)
    {
        UserRegs regs;
        Check(Ptrace.ptrace(Ptrace.PTRACE_GETREGS, tid, 0, (nint)(&regs)), "PTRACE_GETREGS", tid);
        return regs;
    }

    public void SetRegisters(int tid, UserRegs regs)
    {
        RequireStopped(tid);
        WriteRegisters(tid, regs);
    }

    private unsafe void WriteRegisters(int tid, UserRegs regs)
    {
        Check(Ptrace.ptrace(Ptrace.PTRACE_SETREGS, tid, 0, (nint)(&regs)), "PTRACE_SETREGS", tid);
    }

    /// <summary>The thread's XSAVE area (x87, SSE, AVX ... state), to put back after running code on it.</summary>
    public unsafe byte[] GetExtendedState(int tid)
    {
        RequireStopped(tid);
        var buffer = new byte[XStateBufferSize];
        fixed (byte* data = buffer)
        {
            var vector = new iovec { iov_base = (nint)data, iov_len = (nuint)buffer.Length };
            Check(Ptrace.ptrace(Ptrace.PTRACE_GETREGSET, tid, Ptrace.NT_X86_XSTATE, (nint)(&vector)), "PTRACE_GETREGSET", tid);
            return buffer[..(int)vector.iov_len];
        }
    }

    public unsafe void SetExtendedState(int tid, byte[] state)
    {
        RequireStopped(tid);
        fixed (byte* data = state)
        {
            var vector = new iovec { iov_base = (nint)data, iov_len = (nuint)state.Length };
            Check(Ptrace.ptrace(Ptrace.PTRACE_SETREGSET, tid, Ptrace.NT_X86_XSTATE, (nint)(&vector)), "PTRACE_SETREGSET", tid);
        }
    }

    public unsafe ulong GetSignalMask(int tid)
    {
        RequireStopped(tid);
        ulong mask;
        Check(Ptrace.ptrace(Ptrace.PTRACE_GETSIGMASK, tid, sizeof(ulong), (nint)(&mask)), "PTRACE_GETSIGMASK", tid);
        return mask;
    }

    public unsafe void SetSignalMask(int tid, ulong mask)
    {
        RequireStopped(tid);
        Check(Ptrace.ptrace(Ptrace.PTRACE_SETSIGMASK, tid, sizeof(ulong), (nint)(&mask)), "PTRACE_SETSIGMASK", tid);
    }

    private void RequireStopped(int tid)
    {
        if (!Get(tid).IsStopped)
        {
            throw new InvalidOperationException($"thread {tid} must be stopped first");
        }
    }

    private void Check(long result, string request, int tid)
    {
        if (result == 0)
        {
            return;
        }

        var error = ErrnoException.FromLastError($"ptrace({request}, {tid})");
        if (error.Errno == Errno.ESRCH)
        {
            threads.Remove(tid);
            throw new TargetGoneException($"thread {tid} of process {Pid} exited");
        }

        throw error;
    }
}
