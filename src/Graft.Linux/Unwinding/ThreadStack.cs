namespace Graft.Linux.Unwinding;

/// <summary>
/// A thread's unwound stack. Like the kernel's reliable stack traces, an unreliable stack must
/// be treated as if it held every function: a transition never trusts it.
/// </summary>
public sealed record ThreadStack(int Tid, IReadOnlyList<StackFrame> Frames, string? UnreliableReason)
{
    public bool IsReliable => UnreliableReason is null;

    public override string ToString() =>
        string.Join('\n', Frames.Select((f, i) => $"#{i} {f}"))
        + (IsReliable ? "" : $"\n(unreliable: {UnreliableReason})");
}
