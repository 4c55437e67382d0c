using Graft.Core.State;
using Graft.Linux.Interop;
using Graft.Patching.Lifecycle;
using Graft.Patching.Loading;
using Graft.Patching.Target;
using Graft.Patching.Transition;

namespace Graft.Patching;

public sealed partial class Patcher
{
    /// <summary>
    /// The record once <paramref name="patch"/> is in force on every thread: patched, without
    /// its nops, and, for a cumulative patch, without the patches it replaces (returned, to be
    /// unloaded, with the slot pages nothing uses any more).
    /// </summary>
    private static (TargetState State, IReadOnlyList<AppliedPatch> Replaced, IReadOnlyList<SlotPage> UnusedPages) Patched(TargetState state, AppliedPatch patch)
    {
        var replaced = Replaced(state, patch);
        var done = patch with { Phase = PatchPhase.Patched, Functions = [.. patch.Functions.Where(f => !f.IsNop)] };
        var remaining = state with { Patches = [.. state.Patches.Except(replaced).Select(p => p == patch ? done : p)] };
        var unused = remaining.UnusedSlotPages();
        return (remaining with { SlotPages = [.. state.SlotPages.Except(unused)] }, replaced, unused);
    }

    /// <summary>The patches a cumulative patch replaces: all that were applied before it.</summary>
    private static List<AppliedPatch> Replaced(TargetState state, AppliedPatch patch) =>
        patch.Replace ? [.. state.Patches.TakeWhile(p => p != patch)] : [];

    /// <summary>
    /// After the switch to <paramref name="patch"/> (klp_complete_transition): post_patch
    /// callbacks, the final record, and the replaced patches unloaded. Their callbacks never
    /// run: the cumulative patch took over what they set up, as in the kernel.
    /// </summary>
    private void FinishPatching(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch)
    {
        var done = new CallbackRunner(target, store, Deadline.After(CleanupTimeout)).PostPatch(patch);
        var (finished, replaced, unused) = Patched(state.Replace(patch, done), done);
        store.Write(StateLayout.Serialize(finished));
        Unload(target, store, replaced, unused);
    }

    /// <summary>
    /// After the switch away from <paramref name="patch"/>: post_unpatch callbacks while its
    /// code is still loaded, then the record without it, then the unload. The callbacks run
    /// before the record changes, so a graft killed in between runs them again rather than never.
    /// </summary>
    private void FinishUnpatching(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch)
    {
        new CallbackRunner(target, store, Deadline.After(CleanupTimeout)).PostUnpatch(patch);
        var remaining = state with { Patches = [.. state.Patches.Where(p => p != patch)] };
        var unused = remaining.UnusedSlotPages();
        store.Write(StateLayout.Serialize(remaining with { SlotPages = [.. state.SlotPages.Except(unused)] }));
        Unload(target, store, [patch], unused);
    }

    /// <summary>Nothing can enter these patches any more: unload them and unmap the slot pages left empty.</summary>
    /// <remarks>Past the switch, an interruption no longer stops the operation: it finishes.</remarks>
    private void Unload(TargetProcess target, StateStore store, IReadOnlyList<AppliedPatch> patches, IReadOnlyList<SlotPage> unusedPages)
    {
        foreach (var forced in patches.Where(p => p.Forced))
        {
            Notice($"'{forced.Name}': forced earlier, so its code stays loaded");
        }

        var unloaded = patches.Where(p => !p.Forced).ToList();
        if (unloaded.Count == 0 && unusedPages.Count == 0)
        {
            return;
        }

        var tid = CallThread.Acquire(target, Deadline.After(CleanupTimeout));
        try
        {
            var loader = new RemoteLoader(target, store);
            foreach (var patch in unloaded)
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
