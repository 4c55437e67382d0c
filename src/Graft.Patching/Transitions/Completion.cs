using Graft.Model.State;
using Graft.Patching.Lifecycle;
using Graft.Patching.Redirect;
using Graft.Patching.Target;

namespace Graft.Patching.Transitions;

/// <summary>
/// The end of a switch, once no thread can run what it left (klp_complete_transition's
/// callbacks and bookkeeping), the same for both consistency models: the post-(un)patch
/// callbacks, the final record (<see cref="TransitionRecord"/>), then the slot pages nothing
/// uses any more unmapped.
/// </summary>
internal static class Completion
{
    /// <summary>How long the callbacks and the unmapping may wait for a thread to run calls on.</summary>
    public static readonly TimeSpan CleanupTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// After the switch to <paramref name="patch"/>: post_patch callbacks, then the record with
    /// the patch in force. Patches a cumulative patch replaces are disabled, their callbacks
    /// never run: the cumulative patch took over what they set up, as in the kernel.
    /// </summary>
    public static void Patched(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch, Action<string> notice)
    {
        var done = new CallbackRunner(target, store, Deadline.After(CleanupTimeout)).PostPatch(patch);
        var finished = TransitionRecord.CompletePatching(state.Replace(patch, done), done);
        store.Write(finished.State);
        SlotPages.UnmapIfAThreadCanSoon(target, finished.UnusedPages, CleanupTimeout, notice);
    }

    /// <summary>
    /// After the switch away from <paramref name="patch"/>: post_unpatch callbacks while its
    /// code is still reachable, then the record with it disabled. The callbacks run before the
    /// record changes, so a graft killed in between runs them again rather than never. Its
    /// image stays loaded (<see cref="TargetState.Disabled"/>).
    /// </summary>
    public static void Unpatched(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch, Action<string> notice)
    {
        new CallbackRunner(target, store, Deadline.After(CleanupTimeout)).PostUnpatch(patch);
        var finished = TransitionRecord.CompleteUnpatching(state, patch);
        store.Write(finished.State);
        SlotPages.UnmapIfAThreadCanSoon(target, finished.UnusedPages, CleanupTimeout, notice);
    }
}
