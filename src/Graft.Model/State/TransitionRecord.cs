namespace Graft.Model.State;

/// <summary>
/// What each step of a transition does to the state record, as functions from record to
/// record with no process in sight: <c>Graft.Patching</c>'s transition writes what they
/// return into the target, and unit tests check them without one.
/// </summary>
public static class TransitionRecord
{
    /// <summary>
    /// The record as a transition of <paramref name="patch"/> starts, or is reversed: the patch
    /// heads for patched or unpatched. There is one transition at a time, as in the kernel.
    /// </summary>
    public static (TargetState State, AppliedPatch Patch) Start(TargetState state, AppliedPatch patch, bool patching)
    {
        if (state.FindPatch(patch.Name) != patch)
        {
            throw new ArgumentException($"patch '{patch.Name}' is not this record's", nameof(patch));
        }

        if (state.InTransition is { } other && other != patch)
        {
            throw new InvalidOperationException($"patch '{other.Name}' is in transition already");
        }

        var heading = patch with { Phase = patching ? PatchPhase.Patching : PatchPhase.Unpatching };
        return (state.Replace(patch, heading), heading);
    }

    /// <summary>The record after --force: threads may still run the patch's code, so its image is never unloaded.</summary>
    public static (TargetState State, AppliedPatch Patch) Force(TargetState state, AppliedPatch patch)
    {
        var forced = patch with { Forced = true };
        return (state.Replace(patch, forced), forced);
    }

    /// <summary>
    /// The record once <paramref name="patch"/> is in force on every thread: patched, without
    /// its nops, and, for a cumulative patch, with the patches it replaces disabled (their
    /// images stay loaded); with the slot pages nothing uses any more taken out, to be unmapped.
    /// </summary>
    public static SlotPagesPruned CompletePatching(TargetState state, AppliedPatch patch)
    {
        var done = patch with { Phase = PatchPhase.Patched, Functions = [.. patch.Functions.Where(f => !f.IsNop)] };
        return state.Replace(patch, done).Disable(Replaced(state, patch)).PruneSlotPages();
    }

    /// <summary>The record once every thread has left <paramref name="patch"/>: it is disabled (its image stays loaded).</summary>
    public static SlotPagesPruned CompleteUnpatching(TargetState state, AppliedPatch patch) =>
        state.Disable([patch]).PruneSlotPages();

    /// <summary>The patches a cumulative patch replaces: all that were applied before it.</summary>
    public static IReadOnlyList<AppliedPatch> Replaced(TargetState state, AppliedPatch patch) =>
        patch.Replace ? [.. state.Patches.TakeWhile(p => p != patch)] : [];

    /// <summary>
    /// The record without the patches a graft killed in the middle of an apply left loading
    /// (their code never ran), which are returned to be unloaded.
    /// </summary>
    public static (SlotPagesPruned Remaining, IReadOnlyList<AppliedPatch> Interrupted) WithoutInterrupted(TargetState state)
    {
        var interrupted = state.Patches.Where(p => p.Phase == PatchPhase.Loading).ToList();
        return ((state with { Patches = [.. state.Patches.Except(interrupted)] }).PruneSlotPages(), interrupted);
    }

    /// <summary>
    /// A forked child's record once its one thread has settled in a universe. Settled patched,
    /// it keeps the replaced patches' code mapped but no longer records them; settled
    /// unpatched, the patch stays loaded, recorded as loading, so the next graft on the child
    /// unloads it.
    /// </summary>
    public static TargetState SettleChild(TargetState state, AppliedPatch patch, bool patched) => patched
        ? CompletePatching(state, patch).State with { SlotPages = state.SlotPages }
        : state.Replace(patch, patch with { Phase = PatchPhase.Loading });
}

/// <summary>A record with the slot pages that no function uses any more taken out, and those pages, for the target to unmap.</summary>
public sealed record SlotPagesPruned(TargetState State, IReadOnlyList<SlotPage> UnusedPages);
