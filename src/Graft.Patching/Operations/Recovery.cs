using Graft.Model.State;
using Graft.Patching.Loading;
using Graft.Patching.Redirect;
using Graft.Patching.Target;

namespace Graft.Patching.Operations;

/// <summary>
/// Unloading patch images no function leads to: those an interrupted apply left loading, whose
/// code never ran, and disabled ones the operator asks to unload. In both, the record goes
/// first: the dlclose serves library events, whose handlers read it.
/// </summary>
internal static class Recovery
{
    /// <summary>
    /// Undoes what a graft killed in the middle of an apply left behind (docs/ARCHITECTURE.md,
    /// invariant 5): a patch recorded as loading is unloaded and its empty slot pages unmapped. Only a dead graft
    /// leaves one, or one whose dlopen ran past its timeout (<see cref="Application"/>): a live one holds the
    /// process, and this graft could not have attached to it.
    /// </summary>
    public static TargetState CleanUpInterrupted(TargetProcess target, StateStore store, TargetState state, Action<string> notice)
    {
        var (remaining, interrupted) = TransitionRecord.WithoutInterrupted(state);
        if (interrupted.Count == 0)
        {
            return state;
        }

        foreach (var patch in interrupted)
        {
            notice($"'{patch.Name}': unloading what an interrupted apply left behind");
        }

        // A dlopen graft left running at its timeout may still be in the patch's constructors: wait until
        // no thread returns to graft's trampoline any more, rather than block in the loader's lock behind it.
        Transitions.Synchronization.WaitUntilNoThreadIsIn(target, [(store.Trampoline, (ulong)Linux.Tracing.ReturnTrampoline.Code.Length)], "a call of graft's");
        store.Write(remaining.State);
        Unload(target, store, interrupted, remaining.UnusedPages);
        target.Refresh();
        return remaining.State;
    }

    /// <summary>
    /// graft unload: the images of a reverted (or replaced) patch go. What the program still
    /// points to in them (a string one of its functions returned, a callback it registered, its
    /// static data) is unmapped, and a later use of such a pointer faults: hence an act of its
    /// own, which the operator asks for knowing that. A patch forced earlier stays loaded for
    /// good: threads may still run its code. Returns how many images were unloaded.
    /// </summary>
    public static int UnloadImages(OpenTarget opened, string patchName, Action<string> notice)
    {
        var (target, store, state) = opened;
        var images = state.Disabled.Where(d => d.Name == patchName).ToList();
        if (images.Count == 0)
        {
            throw new GraftException(GraftFailure.Refused, state.FindPatch(patchName) is null
                ? $"patch '{patchName}' has no image loaded in process {target.Pid}"
                : $"patch '{patchName}' is applied to process {target.Pid}; revert it first");
        }

        if (images.Any(i => i.Forced))
        {
            throw new GraftException(GraftFailure.Refused, $"patch '{patchName}' was forced earlier: threads may still run its code, so it stays loaded");
        }

        notice($"'{patchName}': unloading {images.Count} image(s); a pointer the program still holds into them now faults");
        store.Write(state with { Disabled = [.. state.Disabled.Except(images)] });
        Unload(target, store, images, []);
        return images.Count;
    }

    /// <summary>dlclose()s <paramref name="patches"/> and closes their memfds, then unmaps <paramref name="unusedPages"/>.</summary>
    private static void Unload(TargetProcess target, StateStore store, IReadOnlyList<AppliedPatch> patches, IReadOnlyList<SlotPage> unusedPages)
    {
        if (patches.Count == 0 && unusedPages.Count == 0)
        {
            return;
        }

        using var caller = CallerThread.Acquire(target, Deadline.After(Transitions.Completion.CleanupTimeout), StopPurposes.Dlclose);
        var loader = new RemoteLoader(target, store);
        foreach (var patch in patches)
        {
            Close(target, loader, caller.Tid, patch);
        }

        SlotPages.Unmap(target, caller.Tid, unusedPages);
    }

    private static void Close(TargetProcess target, RemoteLoader loader, int tid, AppliedPatch patch)
    {
        var loadedFrom = patch.LoadedFrom ?? patch.Path;
        if (patch.Handle != 0)
        {
            loader.Close(tid, patch.Handle);
        }
        else if (loader.FindLoaded(tid, loadedFrom) is var handle and not 0)
        {
            // A graft killed inside dlopen never learnt the handle: the lookup took a second
            // reference to the patch, so close it twice.
            loader.Close(tid, handle);
            loader.Close(tid, handle);
        }

        if (patch.LoadedFrom is not null)
        {
            PatchCopy.Close(target, tid, patch.LoadedFrom);
        }
    }
}
