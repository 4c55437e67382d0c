using System.Diagnostics;

namespace Graft.Linux.Tracing;

/// <summary>
/// What stopping costs the target, measured where it happens: from the stop Graft observes to
/// the resume it sends. The kernel takes a few more microseconds on either side.
/// </summary>
public sealed partial class Tracee
{
    /// <summary>The longest any one thread has been stopped since the last reset.</summary>
    public TimeSpan LongestStop { get; private set; }

    /// <summary>The most threads stopped at the same moment since the last reset.</summary>
    public int MostStoppedAtOnce { get; private set; }

    public void ResetStopStatistics()
    {
        CheckOwner();
        LongestStop = TimeSpan.Zero;
        MostStoppedAtOnce = threads.Values.Count(t => t.IsStopped);
    }

    private void MarkStopped(TracedThread thread)
    {
        thread.IsStopped = true;
        thread.StoppedSince = Stopwatch.GetTimestamp();
        MostStoppedAtOnce = Math.Max(MostStoppedAtOnce, threads.Values.Count(t => t.IsStopped));
    }

    private void MarkResumed(TracedThread thread)
    {
        thread.IsStopped = false;
        var stopped = Stopwatch.GetElapsedTime(thread.StoppedSince);
        LongestStop = stopped > LongestStop ? stopped : LongestStop;
    }
}
