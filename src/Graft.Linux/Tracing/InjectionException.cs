namespace Graft.Linux.Tracing;

/// <summary>Code Graft ran inside the target (a syscall or a call) failed; the thread's state was put back.</summary>
public sealed class InjectionException(string message, bool timedOut = false) : Exception(message)
{
    /// <summary>The code was still running when its time was up: it was cut short, not failed.</summary>
    public bool TimedOut => timedOut;
}
