using Graft.Model;
using Graft.Model.State;
using Graft.Patching.Lifecycle;
using Graft.Patching.Redirect;
using Graft.Patching.Transitions;

namespace Graft.Patching.Operations;

/// <summary>
/// One revert (klp_disable_patch): puts back what lies below the patch (the original code, or
/// the patch it was stacked on), thread by thread (per-thread) or once no thread is inside the
/// patch (stop-world), then disables it: its image stays loaded (graft unload takes it away),
/// and the slot pages nothing uses any more are unmapped. A patch with another stacked on one
/// of its functions is refused: reverts follow each function's stack.
/// </summary>
internal sealed class Reversion(OpenTarget opened, AppliedPatch patch, Deadline deadline, Action<string> notice,
    IProgress<TransitionSnapshot>? progress)
{
    public OperationReport Run(ConsistencyModel model, bool force)
    {
        var (target, _, state) = opened;
        Application.RefuseDuringTransition(state, target.Pid);
        if (FunctionStack.Above(state, patch) is var (above, function))
        {
            throw new GraftException(GraftFailure.Refused,
                $"patch '{patch.Name}' cannot be reverted while patch '{above.Name}' is stacked on it ('{function.Name}' in {Path.GetFileName(function.ObjectPath)}); revert '{above.Name}' first");
        }

        notice(Notices.Initializing(patch.Name, patching: false));
        return model == ConsistencyModel.PerThread ? PerThread(force) : StopWorld();
    }

    private OperationReport PerThread(bool force)
    {
        using var transition = Transition.Init(opened.Target, opened.Store, opened.State, patch, Universe.Old, notice);
        var unpatching = new CallbackRunner(opened.Target, opened.Store, deadline).PreUnpatch(patch);
        transition.Start(unpatching, [.. unpatching.Functions.Select(f => Redirects.ToDispatcher(f))]);
        return Patcher.Drive(transition, opened.Target.Pid, force, deadline, progress);
    }

    private OperationReport StopWorld()
    {
        var (target, store, _) = opened;
        var unpatching = new CallbackRunner(target, store, deadline).PreUnpatch(patch);
        var state = opened.State.Replace(patch, unpatching);
        notice(Notices.Starting(patch.Name, patching: false));

        // Serialized before the stop, so that nothing slow runs while every thread waits.
        var recordBytes = StateLayout.Serialize(state with { Patches = [.. state.Patches.Where(p => p != unpatching)] });
        var restored = unpatching.Functions
            .Select(f => (f.PatchAddress, Bytes: Redirects.RestoredEntry(f, FunctionStack.Below(state, unpatching, f.Address))))
            .ToList();
        TransitionStatistics statistics;
        try
        {
            statistics = Transitions.StopWorld.Run(target, deadline, Blockers.For(state, unpatching, Universe.Old), () =>
            {
                foreach (var (address, bytes) in restored)
                {
                    target.Memory.Write(address, bytes);
                }

                store.Write(recordBytes);
            }, Transitions.StopWorld.Reporting(progress, patch.Name, patching: false));
        }
        catch (GraftException)
        {
            // The patch stays in force: post_patch again, as a reversed unpatching runs it.
            new CallbackRunner(target, store, Deadline.After(Completion.CleanupTimeout)).PostPatch(unpatching);
            throw;
        }

        notice(Notices.Completing(patch.Name, patching: false));
        Completion.Unpatched(target, store, state, unpatching, notice);
        notice(Notices.Complete(patch.Name, patching: false));
        return new OperationReport(patch.Name, target.Pid, statistics, patch.Functions);
    }
}
