using Graft.Model.State;
using Graft.Patching.Target;
using Graft.Patching.Transition;

namespace Graft.Patching;

public sealed partial class Patcher
{
    /// <summary>
    /// The transition in flight in the process, if any: how many threads have switched, and
    /// each other thread with its stack and what holds it (the kernel's stalled-task report).
    /// Threads are stopped one at a time to be unwound; nothing in the target changes.
    /// </summary>
    public TransitionProgress? Status(int pid) => OnTarget(pid, target =>
    {
        var store = new StateStore(target.Modules, target.Tracee.Memory, pid);
        var state = store.Read();
        if (state.InTransition is not { } patch)
        {
            return null;
        }

        var goal = patch.Phase == PatchPhase.Patching ? Universe.New : Universe.Old;
        var table = ThreadTable.Load(target.Tracee.Memory, store.Address + StateLayout.ThreadTableOffset);
        var blocker = Blockers.For(state, patch, goal);
        var stuck = new List<StuckThread>();
        var threads = 0;
        foreach (var tid in target.Tracee.ThreadIds.ToList())
        {
            if (!target.Tracee.Stop(tid))
            {
                continue;
            }

            try
            {
                threads++;
                if (table.UniverseOf(target.Registers(tid).fs_base) != goal)
                {
                    var stack = target.Stack(tid);
                    var reason = stack.IsReliable ? blocker(stack) ?? "has a clean stack: switches at the next sweep" : $"has an unreliable stack: {stack.UnreliableReason}";
                    stuck.Add(new StuckThread(tid, reason, [.. stack.Frames.Select(f => f.ToString())]));
                }
            }
            finally
            {
                target.Tracee.Resume(tid);
            }
        }

        return new TransitionProgress(patch.Name, goal == Universe.New, threads, threads - stuck.Count, stuck);
    });
}
