using Graft.Linux.Unwinding;
using Graft.Patching.Target;

namespace Graft.Patching.Transitions;

/// <summary>
/// The stop-the-world consistency model (kpatch's): stop every thread, check every stack, and
/// only when no stack holds an affected function run the switch while all threads are stopped.
/// Otherwise resume, wait, and try again until the deadline.
/// </summary>
internal static class StopWorld
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestRetryDelay = TimeSpan.FromMilliseconds(250);

    /// <param name="blocker">What in a stack holds the switch back (a function name), or null if the stack is clean.</param>
    /// <param name="commit">The switch; runs with every thread stopped.</param>
    /// <param name="refused">Hears of each attempt that found a stack not clean, once every thread runs again: how many threads
    /// there were, what held each back, and the time left (<see cref="Reporting"/>).</param>
    public static TransitionStatistics Run(TargetProcess target, Deadline deadline, Func<ThreadStack, string?> blocker, Action commit,
        Action<int, IReadOnlyList<string>, TimeSpan>? refused)
    {
        target.PrepareUnwinding();
        Rehearse(target, blocker);
        var delay = FirstRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            target.StopAll(StopPurposes.StopWorld);
            var blocked = new List<string>();
            try
            {
                foreach (var tid in target.ThreadIds.Where(t => !target.IsUnstarted(t)).ToList())
                {
                    var stack = target.Stack(tid);
                    var reason = stack.IsReliable ? blocker(stack) : $"unreliable stack: {stack.UnreliableReason}";
                    if (reason is not null)
                    {
                        blocked.Add($"thread {tid} {reason}");
                    }
                }

                if (blocked.Count == 0)
                {
                    commit();
                }
            }
            finally
            {
                target.ResumeAll();
            }

            if (blocked.Count == 0)
            {
                return new TransitionStatistics(ConsistencyModel.StopWorld, attempt, 0);
            }

            refused?.Invoke(target.ThreadIds.Count, blocked, deadline.Left);

            deadline.ThrowIfInterrupted();
            if (!deadline.Allows(delay))
            {
                throw new GraftException(GraftFailure.Timeout,
                    $"no safe moment found in process {target.Pid} before the timeout ({attempt} attempts): {string.Join("; ", blocked)}");
            }

            target.Pump(delay);
            delay = Max(FirstRetryDelay, Min(LongestRetryDelay, delay * 2));
        }
    }

    /// <summary>What <see cref="Run"/>'s attempts tell <paramref name="progress"/>: no thread has switched, and which hold the switch back.</summary>
    public static Action<int, IReadOnlyList<string>, TimeSpan>? Reporting(IProgress<TransitionSnapshot>? progress, string patch, bool patching) =>
        progress is null
            ? null
            : (threads, blocked, left) => progress.Report(new TransitionSnapshot(patch, patching, ConsistencyModel.StopWorld, threads, 0, blocked.Count, blocked[0], left));

    /// <summary>
    /// Runs the stack check once on one thread while the others run, so that the first use of
    /// the unwinder (code compiled on first call, tables read lazily) does not fall inside the
    /// window where every thread is stopped.
    /// </summary>
    private static void Rehearse(TargetProcess target, Func<ThreadStack, string?> blocker)
    {
        var tid = target.ThreadIds.First();
        using var stopped = target.TryStop(tid, StopPurposes.StopWorld);
        if (stopped is not null)
        {
            blocker(target.Stack(tid));
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
