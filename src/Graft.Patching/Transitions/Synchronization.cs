using Graft.Linux.Tracing;
using Graft.Linux.Unwinding;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.X86;

namespace Graft.Patching.Transitions;

/// <summary>
/// The kernel's klp_synchronize_transition: waits, one thread at a time, until no thread is
/// inside code a completed transition has just made unreachable (the dispatchers; for an
/// unpatch also the slots and the patch), so that it can be reused or unloaded.
/// </summary>
internal static class Synchronization
{
    /// <summary>A replaced patch's code and slots, which no thread may be in once it is disabled.</summary>
    public static IEnumerable<(ulong Start, ulong Length)> CodeOf(AppliedPatch patch) =>
        [(patch.ImageStart, patch.ImageEnd - patch.ImageStart), .. patch.Functions.Select(f => (f.Slot, (ulong)SlotLayout.Size))];

    /// <summary>Waits until no thread is inside <paramref name="ranges"/>, or returns to them, named <paramref name="what"/> in a timeout.</summary>
    public static void WaitUntilNoThreadIsIn(TargetProcess target, IEnumerable<(ulong Start, ulong Length)> ranges, string what = "graft's slots")
    {
        using var urgent = Urgency.Raise(Urgency.Caller);
        var regions = ranges.ToList();
        bool InRegions(ulong pc) => regions.Any(r => pc >= r.Start && pc < r.Start + r.Length);
        bool Inside(ThreadStack stack) => stack.Frames.Any(f => InRegions(f.Pc));
        var deadline = Deadline.After(Completion.CleanupTimeout);
        var pending = target.ThreadIds.ToList();
        while (pending.Count > 0)
        {
            pending = [.. pending.Where(tid => StillInside(target, tid, Inside, InRegions))];
            if (pending.Count > 0 && !deadline.Allows(TimeSpan.FromMilliseconds(10)))
            {
                throw new GraftException(GraftFailure.Timeout,
                    $"threads {string.Join(", ", pending)} stayed inside {what} for {Completion.CleanupTimeout.TotalSeconds} s");
            }

            target.Pump(TimeSpan.FromMilliseconds(pending.Count > 0 ? 10 : 0));
        }
    }

    /// <summary>
    /// False for a thread that exited, or has not run yet (an empty stack). A thread asleep in a
    /// system call is looked at without a stop: once outside code that is unreachable, it
    /// cannot go back in.
    /// </summary>
    private static bool StillInside(TargetProcess target, int tid, Func<ThreadStack, bool> inside, Func<ulong, bool> inRegions)
    {
        if (target.StackIfAsleep(tid) is { } asleep)
        {
            return inside(asleep);
        }

        using var stopped = target.TryStop(tid, StopPurposes.Synchronization);
        if (stopped is null || target.IsUnstarted(tid))
        {
            return false;
        }

        // A stack unwound only part of the way may hold such a frame further up: look at its every word.
        var regs = target.Registers(tid);
        var stack = target.Stack(tid, regs);
        return inside(stack) || (!stack.IsReliable && target.StackHoldsAny(regs.rsp, inRegions));
    }
}
