using Graft.Linux.Interop;
using Graft.Linux.Seccomp;

namespace Graft.Linux.Tracing;

/// <summary>Reading a stopped thread's seccomp filters (<see cref="Tracee.GetSeccompFilters"/>).</summary>
internal static class SeccompFilterReader
{
    /// <summary>The filters, oldest first; a thread found gone leaves <paramref name="threads"/>, the tracee's table.</summary>
    public static unsafe IReadOnlyList<SeccompFilter> Read(int pid, int tid, Dictionary<int, TracedThread> threads)
    {
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
                    throw new TargetGoneException($"thread {tid} of process {pid} exited");
                }

                throw error;
            }
        }
    }
}
