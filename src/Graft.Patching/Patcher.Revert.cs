using Graft.Model;
using Graft.Model.State;
using Graft.Patching.Lifecycle;
using Graft.Patching.Target;
using Graft.Patching.Transition;

namespace Graft.Patching;

public sealed partial class Patcher
{
    /// <summary>
    /// Puts back what lies below the patch (the original code, or the patch it was stacked on),
    /// thread by thread (per-thread) or once no thread is inside the patch (stop-world), then
    /// disables it (its image stays loaded, see <see cref="Unload"/>) and unmaps the slot pages
    /// nothing uses any more. Reverting a patch whose transition
    /// is in flight reverses it (or continues an unpatching). A patch with another stacked on
    /// one of its functions is refused: reverts follow each function's stack.
    /// </summary>
    public OperationReport Revert(int pid, string patchName, TimeSpan timeout, CancellationToken interruption = default,
        ConsistencyModel model = ConsistencyModel.PerThread, bool force = false)
    {
        var deadline = Deadline.After(timeout, interruption);
        return OnTarget(pid, target =>
        {
            RefuseIfStopped(target);
            SeccompCheck.Run(target);
            var store = new StateStore(target.Modules, target.Tracee.Memory, pid);
            var state = CleanUpInterrupted(target, store, store.Read());
            var patch = state.FindPatch(patchName)
                ?? throw new GraftException(GraftFailure.Refused, $"patch '{patchName}' is not applied to process {pid}");
            if (patch.Phase is PatchPhase.Patching or PatchPhase.Unpatching)
            {
                return Resume(target, store, state, patch, Universe.Old, force, deadline);
            }

            RefuseDuringTransition(state, pid);
            if (FunctionStack.Above(state, patch) is var (above, function))
            {
                throw new GraftException(GraftFailure.Refused,
                    $"patch '{patchName}' cannot be reverted while patch '{above.Name}' is stacked on it ('{function.Name}' in {Path.GetFileName(function.ObjectPath)}); revert '{above.Name}' first");
            }

            Notice(Notices.Initializing(patchName, patching: false));
            var unpatching = new CallbackRunner(target, store, deadline).PreUnpatch(patch);
            state = state.Replace(patch, unpatching);
            if (model == ConsistencyModel.PerThread)
            {
                return Transit(target, store, state, unpatching, Universe.Old, [.. unpatching.Functions.Select(f => Redirects.ToDispatcher(f))], force, deadline);
            }

            Notice(Notices.Starting(patchName, patching: false));
            var remaining = state with { Patches = [.. state.Patches.Where(p => p != unpatching)] };
            var recordBytes = StateLayout.Serialize(remaining);
            var restored = unpatching.Functions
                .Select(f => (f.PatchAddress, Bytes: Redirects.Restored(f, FunctionStack.Below(state, unpatching, f.Address))))
                .ToList();
            TransitionStatistics statistics;
            try
            {
                statistics = StopWorld.Run(target, deadline, Blockers.For(state, unpatching, Universe.Old), () =>
                {
                    foreach (var (address, bytes) in restored)
                    {
                        target.Tracee.Memory.Write(address, bytes);
                    }

                    store.Write(recordBytes);
                });
            }
            catch (GraftException)
            {
                // The patch stays in force: post_patch again, as a reversed unpatching runs it.
                new CallbackRunner(target, store, Deadline.After(CleanupTimeout)).PostPatch(unpatching);
                throw;
            }

            Notice(Notices.Completing(patchName, patching: false));
            FinishUnpatching(target, store, state, unpatching);
            Notice(Notices.Complete(patchName, patching: false));
            return new OperationReport(patchName, pid, statistics, patch.Functions);
        });
    }
}
