using System.Diagnostics;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// What stopping costs the target: every stop of a thread, from the moment it stopped running
/// its own code to the moment Graft let it run that again, by what the stop was for (a
/// <see cref="StopKinds"/> kind, or the purpose Graft gave <see cref="Tracee.Stop"/>). The
/// kernel does not say when a thread stopped, only that it has: a stop counts from the last
/// moment Graft knew the thread was running (its last restart, a poll that found nothing
/// pending, or the interrupt that stopped it), so each figure is an upper bound, by at most the
/// time between two looks. Code Graft runs on a stopped thread (an injected call) is part of its
/// stop. Counts over <paramref name="threads"/>, the tracee's table as it is at each stop.
/// </summary>
internal sealed class StopStatistics(Dictionary<int, TracedThread>.ValueCollection threads)
{
    private readonly Dictionary<string, (int Count, TimeSpan Longest)> kinds = [];

    /// <summary>The longest any one thread has been stopped since the last reset.</summary>
    public TimeSpan LongestStop { get; private set; }

    /// <summary>What the longest stop was for; null while no stop has ended.</summary>
    public string? LongestStopKind { get; private set; }

    /// <summary>The most threads stopped at the same moment since the last reset, counted whenever a stop is seen.</summary>
    public int MostStoppedAtOnce { get; private set; }

    /// <summary>The stops that ended since the last reset, by kind, longest first.</summary>
    public IReadOnlyList<StopKindCost> Kinds =>
        [.. kinds.Select(k => new StopKindCost(k.Key, k.Value.Count, k.Value.Longest)).OrderByDescending(k => k.Longest)];

    /// <summary>From now on; a stop in progress counts from here.</summary>
    public void Reset()
    {
        kinds.Clear();
        LongestStop = TimeSpan.Zero;
        LongestStopKind = null;
        var now = Stopwatch.GetTimestamp();
        foreach (var thread in threads)
        {
            thread.StoppedSince = thread.StopKind is null ? thread.StoppedSince : now;
        }

        MostStoppedAtOnce = Stopped();
    }

    /// <summary>
    /// A stop reported by a thread that was running: it began as early as Graft cannot rule out.
    /// A stop Graft asked for is counted under the purpose it gave; a group-stop is job
    /// control's, not Graft's, and not counted.
    /// </summary>
    public void Seen(TracedThread thread, WaitStatus status)
    {
        if (status.IsGroupStop)
        {
            return;
        }

        // The event-stop of an interrupt comes after Graft sent it; any other stop may have
        // come at any moment since the thread was last seen running.
        var wanted = thread.WantStopped && thread.HasRun;
        var since = wanted && status.IsEventStop ? Math.Max(thread.SeenRunningAt, thread.InterruptedAt) : thread.SeenRunningAt;
        Began(thread, since, wanted ? thread.StopPurpose : KindOf(thread, status));
    }

    /// <summary>The thread goes back to its own code: the stop it was in, if any, ends now.</summary>
    public void Running(TracedThread thread)
    {
        var now = Stopwatch.GetTimestamp();
        thread.SeenRunningAt = now;
        if (thread.StopKind is not { } kind)
        {
            return;
        }

        var stopped = Stopwatch.GetElapsedTime(thread.StoppedSince, now);
        thread.StopKind = null;
        var (count, longest) = kinds.GetValueOrDefault(kind);
        kinds[kind] = (count + 1, stopped > longest ? stopped : longest);
        if (stopped > LongestStop && !thread.IsGraftsOwn)
        {
            LongestStop = stopped;
            LongestStopKind = kind;
        }
    }

    /// <summary>One stop is counted once, from its beginning, whatever else is seen before it ends.</summary>
    private void Began(TracedThread thread, long since, string kind)
    {
        if (thread.StopKind is not null)
        {
            return;
        }

        thread.StopKind = thread.IsGraftsOwn ? StopKinds.Agent : kind;
        thread.StoppedSince = since;
        MostStoppedAtOnce = Math.Max(MostStoppedAtOnce, Stopped());
    }

    private static string KindOf(TracedThread thread, WaitStatus status) => status switch
    {
        _ when !thread.HasRun => StopKinds.NewThread,
        { IsCloneEvent: true } => StopKinds.ThreadCreation,
        { IsForkEvent: true } or { IsVforkEvent: true } => StopKinds.Fork,
        { IsExecEvent: true } => StopKinds.Exec,
        { IsEventStop: true } => StopKinds.Interrupt,
        { IsSyscallStop: true } => StopKinds.SyscallStop,
        { StopSignal: Signals.SIGTRAP } => StopKinds.Trap,
        _ => StopKinds.Signal,
    };

    private int Stopped()
    {
        var stopped = 0;
        foreach (var thread in threads)
        {
            stopped += thread.StopKind is null || thread.IsGraftsOwn ? 0 : 1;
        }

        return stopped;
    }
}

/// <summary>The stops of one kind: how many ended, and the longest.</summary>
public sealed record StopKindCost(string Kind, int Count, TimeSpan Longest);
