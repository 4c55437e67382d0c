using Graft.Linux.Interop;
using Graft.Model.State;
using Graft.Patching.Lifecycle;
using Graft.Patching.Loading;
using Graft.Patching.Target;
using Graft.Patching.Transition;

namespace Graft.Patching;

public sealed partial class Patcher
{
    /// <summary>
    /// The record once <paramref name="patch"/> is in force on every thread: patched, without
    /// its nops, and, for a cumulative patch, with the patches it replaces disabled (their images
    /// stay loaded); returned with the slot pages nothing uses any more, to be unmapped.
    /// </summary>
    private static (TargetState State, IReadOnlyList<SlotPage> UnusedPages) Patched(TargetState state, AppliedPatch patch)
    {
        var done = patch with { Phase = PatchPhase.Patched, Functions = [.. patch.Functions.Where(f => !f.IsNop)] };
        var remaining = state.Replace(patch, done).Disable(Replaced(state, patch));
        var unused = remaining.UnusedSlotPages();
        return (remaining with { SlotPages = [.. state.SlotPages.Except(unused)] }, unused);
    }

    /// <summary>The patches a cumulative patch replaces: all that were applied before it.</summary>
    private static List<AppliedPatch> Replaced(TargetState state, AppliedPatch patch) =>
        patch.Replace ? [.. state.Patches.TakeWhile(p => p != patch)] : [];

    /// <summary>
    /// After the switch to <paramref name="patch"/> (klp_complete_transition): post_patch
    /// callbacks, the final record, the replaced patches disabled. Their callbacks never run:
    /// the cumulative patch took over what they set up, as in the kernel.
    /// </summary>
    private void FinishPatching(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch)
    {
        var done = new CallbackRunner(target, store, Deadline.After(CleanupTimeout)).PostPatch(patch);
        var (finished, unused) = Patched(state.Replace(patch, done), done);
        store.Write(StateLayout.Serialize(finished));
        UnmapUnusedPages(target, unused);
    }

    /// <summary>
    /// After the switch away from <paramref name="patch"/>: post_unpatch callbacks while its
    /// code is still reachable, then the record with it disabled. The callbacks run before the
    /// record changes, so a graft killed in between runs them again rather than never. Its
    /// image stays loaded (<see cref="TargetState.Disabled"/>).
    /// </summary>
    private void FinishUnpatching(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch)
    {
        new CallbackRunner(target, store, Deadline.After(CleanupTimeout)).PostUnpatch(patch);
        var remaining = state.Disable([patch]);
        var unused = remaining.UnusedSlotPages();
        store.Write(StateLayout.Serialize(remaining with { SlotPages = [.. state.SlotPages.Except(unused)] }));
        UnmapUnusedPages(target, unused);
    }

    /// <summary>
    /// Past the switch the operation is done: slot pages nothing leads to any more are unmapped
    /// if a thread can run the call soon, and otherwise left mapped, unused and harmless, with a
    /// notice. Either way the operation reports what it did, the switch.
    /// </summary>
    private void UnmapUnusedPages(TargetProcess target, IReadOnlyList<SlotPage> pages)
    {
        if (pages.Count == 0)
        {
            return;
        }

        try
        {
            var tid = CallThread.Acquire(target, Deadline.After(CleanupTimeout));
            try
            {
                foreach (var page in pages)
                {
                    target.Tracee.InjectSyscall(tid, Syscalls.SYS_munmap, page.Address, page.Size);
                }
            }
            finally
            {
                target.Tracee.Resume(tid);
            }
        }
        catch (GraftException e) when (e.Failure == GraftFailure.Timeout)
        {
            Notice($"warning: {pages.Count} slot page(s) nothing uses any more stay mapped: {e.Message}");
        }
    }

    /// <summary>
    /// dlclose()s patches no function leads to and unmaps the slot pages left empty: patches an
    /// interrupted apply left loading, whose code never ran, and disabled ones the operator
    /// asked to unload.
    /// </summary>
    private static void Unload(TargetProcess target, StateStore store, IReadOnlyList<AppliedPatch> patches, IReadOnlyList<SlotPage> unusedPages)
    {
        if (patches.Count == 0 && unusedPages.Count == 0)
        {
            return;
        }

        var tid = CallThread.Acquire(target, Deadline.After(CleanupTimeout));
        try
        {
            var loader = new RemoteLoader(target, store);
            foreach (var patch in patches)
            {
                Close(target, loader, tid, patch);
            }

            foreach (var page in unusedPages)
            {
                target.Tracee.InjectSyscall(tid, Syscalls.SYS_munmap, page.Address, page.Size);
            }
        }
        finally
        {
            target.Tracee.Resume(tid);
        }
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
