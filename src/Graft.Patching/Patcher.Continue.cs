using Graft.Model;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.Patching.Transition;

namespace Graft.Patching;

public sealed partial class Patcher
{
    /// <summary>Resumes the sweeps of the transition in flight in the process (left by a timeout or a killed graft).</summary>
    public OperationReport Continue(int pid, TimeSpan timeout, CancellationToken interruption = default, bool force = false)
    {
        var deadline = Deadline.After(timeout, interruption);
        return OnTarget(pid, target =>
        {
            RefuseIfStopped(target);
            SeccompCheck.Run(target);
            var store = new StateStore(target.Modules, target.Tracee.Memory, pid);
            var state = CleanUpInterrupted(target, store, store.Read());
            var patch = state.InTransition
                ?? throw new GraftException(GraftFailure.Refused, $"no transition is in flight in process {pid}");
            return Resume(target, store, state, patch, patch.Phase == PatchPhase.Patching ? Universe.New : Universe.Old, force, deadline);
        });
    }

    /// <summary>Continues a transition in flight towards <paramref name="goal"/>, reversing it first if it was heading the other way.</summary>
    private OperationReport Resume(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch, Universe goal, bool force, Deadline deadline)
    {
        var heading = patch.Phase == PatchPhase.Patching ? Universe.New : Universe.Old;
        if (heading != goal)
        {
            // The kernel's klp_reverse_transition restarts the transition the other way.
            Notice(Notices.Reversing(patch.Name, toPatching: goal == Universe.New));
            Notice(Notices.Starting(patch.Name, patching: goal == Universe.New));
        }

        return Transit(target, store, state, patch, goal, install: null, force, deadline);
    }

    /// <summary>One transition at a time, as in the kernel: another patch waits until the one in flight is finished or reversed.</summary>
    private static void RefuseDuringTransition(TargetState state, int pid)
    {
        if (state.InTransition is { } inFlight)
        {
            throw new GraftException(GraftFailure.Refused,
                $"patch '{inFlight.Name}' is in transition in process {pid}; finish it with 'graft continue {pid}' or reverse it with 'graft revert {pid} {inFlight.Name}' first");
        }
    }
}
