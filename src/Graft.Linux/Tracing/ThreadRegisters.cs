using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Register, extended-state and signal-mask requests for a thread in any ptrace-stop, including
/// the stops of code Graft runs on it. Whether the thread may be touched is the caller's to
/// check; a thread found gone leaves <paramref name="threads"/>, the tracee's table.
/// </summary>
internal sealed class ThreadRegisters(int pid, Dictionary<int, TracedThread> threads)
{
    // Large enough for every XSAVE layout of this architecture, AMX tiles included.
    private const int XStateBufferSize = 16384;

    public unsafe UserRegs Read(int tid)
    {
        UserRegs regs;
        Check(Ptrace.ptrace(Ptrace.PTRACE_GETREGS, tid, 0, (nint)(&regs)), "PTRACE_GETREGS", tid);
        return regs;
    }

    public unsafe void Write(int tid, UserRegs regs)
    {
        Check(Ptrace.ptrace(Ptrace.PTRACE_SETREGS, tid, 0, (nint)(&regs)), "PTRACE_SETREGS", tid);
    }

    /// <summary>The thread's XSAVE area (x87, SSE, AVX ... state), to put back after running code on it.</summary>
    public unsafe byte[] ReadExtendedState(int tid)
    {
        var buffer = new byte[XStateBufferSize];
        fixed (byte* data = buffer)
        {
            var vector = new iovec { iov_base = (nint)data, iov_len = (nuint)buffer.Length };
            Check(Ptrace.ptrace(Ptrace.PTRACE_GETREGSET, tid, Ptrace.NT_X86_XSTATE, (nint)(&vector)), "PTRACE_GETREGSET", tid);
            return buffer[..(int)vector.iov_len];
        }
    }

    public unsafe void WriteExtendedState(int tid, byte[] state)
    {
        fixed (byte* data = state)
        {
            var vector = new iovec { iov_base = (nint)data, iov_len = (nuint)state.Length };
            Check(Ptrace.ptrace(Ptrace.PTRACE_SETREGSET, tid, Ptrace.NT_X86_XSTATE, (nint)(&vector)), "PTRACE_SETREGSET", tid);
        }
    }

    public unsafe ulong ReadSignalMask(int tid)
    {
        ulong mask;
        Check(Ptrace.ptrace(Ptrace.PTRACE_GETSIGMASK, tid, sizeof(ulong), (nint)(&mask)), "PTRACE_GETSIGMASK", tid);
        return mask;
    }

    public unsafe void WriteSignalMask(int tid, ulong mask)
    {
        Check(Ptrace.ptrace(Ptrace.PTRACE_SETSIGMASK, tid, sizeof(ulong), (nint)(&mask)), "PTRACE_SETSIGMASK", tid);
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
            throw new TargetGoneException($"thread {tid} of process {pid} exited");
        }

        throw error;
    }
}
