namespace Graft.Linux.Tracing;

/// <summary>
/// A thread of the traced process received a fatal signal (one it does not catch, whose default action ends the
/// process) while Graft was attached; Graft passed it on, so the process is gone or going.
/// </summary>
public sealed class TargetCrashedException(int pid, int tid, string signal, string where)
    : Exception($"process {pid} died: thread {tid} got {signal} at {where}")
{
    public int Tid { get; } = tid;

    public string Signal { get; } = signal;

    public string Where { get; } = where;
}
