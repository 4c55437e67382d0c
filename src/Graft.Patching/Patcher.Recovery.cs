using Graft.Model.State;
using Graft.Patching.Target;

namespace Graft.Patching;

public sealed partial class Patcher
{
    /// <summary>
    /// Undoes what a graft killed in the middle of an apply left behind (docs/ARCHITECTURE.md,
    /// invariant 5): a patch recorded as loading is unloaded and its empty slot pages unmapped.
    /// Only a dead graft leaves one: a live one holds the process, and this graft could not have
    /// attached to it.
    /// </summary>
    private TargetState CleanUpInterrupted(TargetProcess target, StateStore store, TargetState state)
    {
        var interrupted = state.Patches.Where(p => p.Phase == PatchPhase.Loading).ToList();
        if (interrupted.Count == 0)
        {
            return state;
        }

        var remaining = state with { Patches = [.. state.Patches.Except(interrupted)] };
        var unusedPages = remaining.UnusedSlotPages();
        var cleaned = remaining with { SlotPages = [.. state.SlotPages.Except(unusedPages)] };
        foreach (var patch in interrupted)
        {
            Notice($"'{patch.Name}': unloading what an interrupted apply left behind");
        }

        // The record first: the dlclose serves library events, whose handlers read it.
        store.Write(StateLayout.Serialize(cleaned));
        Unload(target, store, interrupted, unusedPages);
        target.Refresh();
        return cleaned;
    }
}
