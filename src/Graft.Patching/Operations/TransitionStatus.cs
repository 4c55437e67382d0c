using Graft.Model.State;
using Graft.Patching.Target;
using Graft.Patching.Transitions;

namespace Graft.Patching.Operations;

/// <summary>The kernel's stalled-task report for graft status: who has switched, and what holds each other thread.</summary>
internal static class TransitionStatus
{
    /// <summary>The transition in flight, or null; threads are stopped one at a time to be unwound, nothing changes.</summary>
    public static TransitionProgress? Read(TargetProcess target, StateStore store, TargetState state)
    {
        if (state.InTransition is not { } patch)
        {
            return null;
        }

        var goal = Transition.Heading(patch);
        var table = ThreadTable.Load(target.Memory, store.Address + StateLayout.ThreadTableOffset);
        var blocker = Blockers.For(state, patch, goal);
        var stuck = new List<StuckThread>();
        var threads = 0;
        foreach (var tid in target.ThreadIds.ToList())
        {
            using var stopped = target.TryStop(tid, StopPurposes.Status);
            if (stopped is null)
            {
                continue;
            }

            threads++;
            if (table.UniverseOf(target.Registers(tid).fs_base) != goal)
            {
                var stack = target.Stack(tid);
                var reason = stack.IsReliable ? blocker(stack) ?? "has a clean stack: switches at the next sweep" : $"has an unreliable stack: {stack.UnreliableReason}";
                stuck.Add(new StuckThread(tid, reason, [.. stack.Frames.Select(f => f.ToString())]));
            }
        }

        return new TransitionProgress(patch.Name, goal == Universe.New, threads, threads - stuck.Count, stuck);
    }
}
