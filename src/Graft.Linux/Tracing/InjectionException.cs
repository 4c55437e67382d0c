namespace Graft.Linux.Tracing;

/// <summary>
/// Code Graft ran inside the target (a syscall or a call) failed; the thread's state was put back,
/// except for a call that <see cref="RunsOn"/>.
/// </summary>
public sealed class InjectionException(string message, bool timedOut = false, bool runsOn = false) : Exception(message)
{
    /// <summary>The code was still running when its time was up: it was cut short, not failed.</summary>
    public bool TimedOut => timedOut;

    /// <summary>
    /// The call was still running when its time was up and was left to run to its end: the
    /// thread returns through Graft's signal frame to where it was, as after a Graft that died.
    /// </summary>
    public bool RunsOn => runsOn;
}
