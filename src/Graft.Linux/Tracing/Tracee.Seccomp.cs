using Graft.Linux.Interop;
using Graft.Linux.Seccomp;

namespace Graft.Linux.Tracing;

/// <summary>Reading a stopped thread's seccomp filters.</summary>
public sealed partial class Tracee
{
    /// <summary>
    /// The thread's seccomp filters, oldest first (PTRACE_SECCOMP_GET_FILTER, which needs
    /// CAP_SYS_ADMIN and a tracer not itself under seccomp). A thread not in filter mode, or a
    /// kernel without the request, is an <see cref="ErrnoException"/> (EINVAL, EIO), as is a
    /// filter that is no classic BPF (EMEDIUMTYPE).
    /// </summary>
    public unsafe IReadOnlyList<SeccompFilter> GetSeccompFilters(int tid)
    {
        RequireStopped(tid);
        var filters = new List<SeccompFilter>();
        var buffer = new byte[SeccompFilter.MaxInstructions * SockFilter.Size];
        fixed (byte* data = buffer)
        {
            for (var index = 0; ; index++)
            {
                var count = Ptrace.ptrace(Ptrace.PTRACE_SECCOMP_GET_FILTER, tid, index, (nint)data);
                if (count >= 0)
                {
                    filters.Add(SeccompFilter.Parse(buffer.AsSpan(0, (int)count * SockFilter.Size)));
                    continue;
                }

                var error = ErrnoException.FromLastError($"ptrace(PTRACE_SECCOMP_GET_FILTER, {tid}, {index})");
                if (error.Errno == Errno.ENOENT)
                {
                    // Past the last filter.
                    return filters;
                }

                if (error.Errno == Errno.ESRCH)
                {
                    threads.Remove(tid);
                    throw new TargetGoneException($"thread {tid} of process {Pid} exited");
                }

                throw error;
            }
        }
    }
}
