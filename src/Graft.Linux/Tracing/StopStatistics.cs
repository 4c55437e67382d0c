using System.Diagnostics;

namespace Graft.Linux.Tracing;

/// <summary>
/// What stopping costs the target, measured where it happens: from the stop Graft observes to
/// the resume it sends. The kernel takes a few more microseconds on either side. Counts over
/// <paramref name="threads"/>, the tracee's table as it is at each stop.
/// </summary>
internal sealed class StopStatistics(IReadOnlyCollection<TracedThread> threads)
{
    /// <summary>The longest any one thread has been stopped since the last reset.</summary>
    public TimeSpan LongestStop { get; private set; }

    /// <summary>The most threads stopped at the same moment since the last reset.</summary>
    public int MostStoppedAtOnce { get; private set; }

    public void Reset()
    {
        LongestStop = TimeSpan.Zero;
        MostStoppedAtOnce = threads.Count(t => t.IsStopped);
    }

    /// <summary>After <paramref name="thread"/> has been marked stopped, so that it counts.</summary>
    public void Stopped(TracedThread thread)
    {
        thread.StoppedSince = Stopwatch.GetTimestamp();
        MostStoppedAtOnce = Math.Max(MostStoppedAtOnce, threads.Count(t => t.IsStopped));
    }

    public void Resumed(TracedThread thread)
    {
        var stopped = Stopwatch.GetElapsedTime(thread.StoppedSince);
        LongestStop = stopped > LongestStop ? stopped : LongestStop;
    }
}
