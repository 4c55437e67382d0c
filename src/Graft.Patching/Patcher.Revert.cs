using Graft.Core;
using Graft.Core.State;
using Graft.Linux.Interop;
using Graft.Linux.Unwinding;
using Graft.Patching.Loading;
using Graft.Patching.Target;
using Graft.Patching.Transition;

namespace Graft.Patching;

public sealed partial class Patcher
{

    /// <summary>
    /// Puts the original code back, thread by thread (per-thread) or once no thread is inside the
    /// patch (stop-world), then unloads the patch and the slot pages nothing uses any more.
    /// Reverting a patch whose transition is in flight reverses it (or continues an unpatching).
    /// </summary>
    public OperationReport Revert(int pid, string patchName, TimeSpan timeout, CancellationToken interruption = default,
        ConsistencyModel model = ConsistencyModel.PerThread, bool force = false)
    {
        var deadline = Deadline.After(timeout, interruption);
        return OnTarget(pid, target =>
        {
            var store = new StateStore(target.Modules, target.Tracee.Memory, pid);
            var state = CleanUpInterrupted(target, store, store.Read());
            var patch = state.FindPatch(patchName)
                ?? throw new GraftException(GraftFailure.Refused, $"patch '{patchName}' is not applied to process {pid}");
            if (patch.Phase is PatchPhase.Patching or PatchPhase.Unpatching)
            {
                return Resume(target, store, state, patch, Universe.Old, force, deadline);
            }

            RefuseDuringTransition(state, pid);
            Notice(Notices.Initializing(patchName, patching: false));
            if (model == ConsistencyModel.PerThread)
            {
                return Transit(target, store, state, patch, Universe.Old, [.. patch.Functions.Select(f => Redirects.ToDispatcher(f))], force, deadline);
            }

            Notice(Notices.Starting(patchName, patching: false));
            var remaining = state with { Patches = [.. state.Patches.Where(p => p != patch)] };
            var unusedPages = remaining.UnusedSlotPages();
            var newState = remaining with { SlotPages = [.. state.SlotPages.Except(unusedPages)] };

            var recordBytes = StateLayout.Serialize(newState);
            var originals = patch.Functions.Select(f => (f.PatchAddress, Bytes: Convert.FromHexString(f.OriginalBytes))).ToList();
            var statistics = StopWorld.Run(target, deadline, stack => RevertBlocker(stack, patch, state.SlotPages), () =>
            {
                foreach (var (address, bytes) in originals)
                {
                    target.Tracee.Memory.Write(address, bytes);
                }

                store.Write(recordBytes);
            });
            Notice(Notices.Completing(patchName, patching: false));
            Unload(target, store, patch, unusedPages);
            Notice(Notices.Complete(patchName, patching: false));
            return new OperationReport(patchName, pid, statistics, patch.Functions);
        });
    }

    /// <summary>Nothing can enter the patch any more: unload it and unmap the slot pages left empty.</summary>
    /// <remarks>Past the switch, an interruption no longer stops the operation: it finishes.</remarks>
    private static void Unload(TargetProcess target, StateStore store, AppliedPatch patch, IReadOnlyList<SlotPage> unusedPages)
    {
        var tid = CallThread.Acquire(target, Deadline.After(CleanupTimeout));
        try
        {
            var loader = new RemoteLoader(target, store);
            if (patch.Handle != 0)
            {
                loader.Close(tid, patch.Handle);
            }
            else if (loader.FindLoaded(tid, patch.Path) is var handle and not 0)
            {
                // A graft killed inside dlopen never learnt the handle: the lookup took a second
                // reference to the patch, so close it twice.
                loader.Close(tid, handle);
                loader.Close(tid, handle);
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

    private static string? RevertBlocker(ThreadStack stack, AppliedPatch patch, IReadOnlyList<SlotPage> pages)
    {
        foreach (var frame in stack.Frames)
        {
            if (frame.CallSite >= patch.ImageStart && frame.CallSite < patch.ImageEnd)
            {
                return $"is running code of patch '{patch.Name}' ({frame})";
            }

            if (pages.Any(p => frame.Pc >= p.Address && frame.Pc < p.Address + p.Size))
            {
                return $"is passing through a graft slot at 0x{frame.Pc:x}";
            }
        }

        return null;
    }
}
