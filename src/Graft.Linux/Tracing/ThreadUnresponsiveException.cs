namespace Graft.Linux.Tracing;

/// <summary>
/// A thread did not reach the ptrace-stop Graft asked for in time: it sleeps where a ptrace
/// interrupt does not wake it (uninterruptible I/O, a vfork parent waiting for its child).
/// </summary>
public sealed class ThreadUnresponsiveException(int pid, int tid, TimeSpan waited, string state)
    : Exception($"thread {tid} of process {pid} did not stop within {waited.TotalSeconds:0.#} s (it is {state})")
{
    public int Tid { get; } = tid;
}
