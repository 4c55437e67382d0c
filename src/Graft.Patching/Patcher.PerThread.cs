using Graft.Linux.Tracing;
using Graft.Linux.Unwinding;
using Graft.Model;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.Patching.Transition;
using Graft.X86;

namespace Graft.Patching;

public sealed partial class Patcher
{
    /// <summary>
    /// Drives the per-thread transition of <paramref name="patch"/> towards <paramref name="goal"/>:
    /// records it, installs the dispatchers (<paramref name="install"/>, when starting), sweeps
    /// until every thread has switched, then completes. Past the deadline the transition stays
    /// in flight inside the target and the report says so.
    /// </summary>
    private OperationReport Transit(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch, Universe goal,
        IReadOnlyList<CodeEdit>? install, bool force, Deadline deadline)
    {
        var patching = goal == Universe.New;
        var writer = new CodeWriter(target);
        writer.Prepare();
        target.PrepareUnwinding();
        var tableAddress = store.Address + StateLayout.ThreadTableOffset;
        void Settle(int child, Universe universe) => SettleChild(target, patch, child, universe);

        target.Tracee.ResetStopStatistics();
        using var transition = install is not null
            ? PerThreadTransition.Begin(target, tableAddress, goal, Blockers.For(state, patch, goal), new EntryRewind(patch.Functions), Settle)
            : PerThreadTransition.Continue(target, tableAddress, goal, Blockers.For(state, patch, goal), new EntryRewind(patch.Functions), Settle);

        // The record first: a graft killed from here on leaves a transition the next one can continue or reverse.
        var inTransition = patch with { Phase = patching ? PatchPhase.Patching : PatchPhase.Unpatching };
        state = state.Replace(patch, inTransition);
        store.Write(StateLayout.Serialize(state));
        if (install is not null)
        {
            WriteDispatchers(target, state, inTransition, tableAddress);
            writer.Write(install);
            Notice(Notices.Starting(patch.Name, patching));
        }

        var stuck = transition.Run(deadline);
        if (stuck.Count > 0 && force)
        {
            Notice(Notices.Forcing(patching));
            transition.Force();
            var forced = inTransition with { Forced = true };
            state = state.Replace(inTransition, forced);
            inTransition = forced;
            store.Write(StateLayout.Serialize(state));
            stuck = [];
        }

        TransitionStatistics Statistics() => new(ConsistencyModel.PerThread, transition.Sweeps, target.Tracee.LongestStop,
            target.Tracee.MostStoppedAtOnce, writer.ThreadsMoved, target.Tracee.TrapsHandled);
        if (stuck.Count > 0)
        {
            var (threads, switched) = transition.Progress();
            return new OperationReport(patch.Name, target.Pid, Statistics(), patch.Functions,
                new TransitionProgress(patch.Name, patching, threads, switched, stuck));
        }

        Notice(Notices.Completing(patch.Name, patching));
        if (patching)
        {
            writer.Write([.. inTransition.Functions.Select(Redirects.ToPatched)]);
            Synchronize(target, [.. inTransition.Functions.Select(f => (Redirects.Dispatcher(f), (ulong)SlotLayout.DispatcherCapacity)),
                .. inTransition.Functions.Where(f => f.IsNop).Select(f => (f.Slot, (ulong)SlotLayout.Size)),
                .. Replaced(state, inTransition).SelectMany(ReachableCode)]);
            FinishPatching(target, store, state, inTransition);
        }
        else
        {
            writer.Write([.. inTransition.Functions.Select(f => Redirects.ToRestored(f, FunctionStack.Below(state, inTransition, f.Address)))]);
            Synchronize(target, [.. state.SlotPages.Select(p => (p.Address, p.Size)), (patch.ImageStart, patch.ImageEnd - patch.ImageStart)]);
            FinishUnpatching(target, store, state, inTransition);
        }

        Notice(Notices.Complete(patch.Name, patching));
        return new OperationReport(patch.Name, target.Pid, Statistics(), patch.Functions);
    }

    /// <summary>
    /// Points each dispatcher at the code below the patch and at its new code. Done as a
    /// transition starts, while no entry jumps to the dispatcher (a completed transition was
    /// synchronized out of them), because what lies below can change between two transitions:
    /// a cumulative patch removes the patches it was stacked on.
    /// </summary>
    private static void WriteDispatchers(TargetProcess target, TargetState state, AppliedPatch patch, ulong tableAddress)
    {
        foreach (var function in patch.Functions)
        {
            var oldCode = Redirects.OldCode(function, FunctionStack.Below(state, patch, function.Address));
            target.Tracee.Memory.Write(Redirects.Dispatcher(function),
                DispatcherCode.Build(Redirects.Dispatcher(function), tableAddress, oldCode, Redirects.NewEntry(function)));
        }
    }

    /// <summary>A replaced patch's code and slots, which no thread may be in when it is unloaded.</summary>
    private static IEnumerable<(ulong Start, ulong Length)> ReachableCode(AppliedPatch patch) =>
        [(patch.ImageStart, patch.ImageEnd - patch.ImageStart), .. patch.Functions.Select(f => (f.Slot, (ulong)SlotLayout.Size))];

    /// <summary>
    /// The kernel's klp_synchronize_transition: waits, one thread at a time, until no thread is
    /// inside code the completed transition has just made unreachable (the dispatchers; for an
    /// unpatch also the slots and the patch), so that it can be reused or unloaded.
    /// </summary>
    private static void Synchronize(TargetProcess target, IEnumerable<(ulong Start, ulong Length)> ranges)
    {
        var regions = ranges.ToList();
        bool Inside(ThreadStack stack) => stack.Frames.Any(f => regions.Any(r => f.Pc >= r.Start && f.Pc < r.Start + r.Length));
        var deadline = Deadline.After(CleanupTimeout);
        var pending = target.Tracee.ThreadIds.ToList();
        while (pending.Count > 0)
        {
            pending = [.. pending.Where(tid => target.Tracee.Stop(tid) && StillInside(target, tid, Inside))];
            if (pending.Count > 0 && !deadline.Allows(TimeSpan.FromMilliseconds(10)))
            {
                throw new GraftException(GraftFailure.Timeout, $"threads {string.Join(", ", pending)} stayed inside graft's slots for {CleanupTimeout.TotalSeconds} s");
            }

            target.Tracee.Pump(TimeSpan.FromMilliseconds(pending.Count > 0 ? 10 : 0));
        }
    }

    private static bool StillInside(TargetProcess target, int tid, Func<ThreadStack, bool> inside)
    {
        try
        {
            return !target.Tracee.IsUnstarted(tid) && inside(target.Stack(tid));
        }
        finally
        {
            target.Tracee.Resume(tid);
        }
    }

    /// <summary>
    /// Finishes the transition in a child forked while it was in flight: the child's one thread
    /// is stopped, so its entries get their final bytes directly, and its own record says where
    /// it ended. A child that ends unpatched keeps the patch loaded, recorded as loading, so the
    /// next graft on it unloads it. Callbacks do not run in the child: its parent ran them.
    /// </summary>
    private void SettleChild(TargetProcess target, AppliedPatch patch, int child, Universe universe)
    {
        using var memory = new RemoteMemory(child);
        var store = new StateStore(target.Modules, memory, child);
        var state = store.Read();
        if (state.FindPatch(patch.Name) is not { Phase: PatchPhase.Patching or PatchPhase.Unpatching } copy)
        {
            // Forked before the transition was recorded: the child's code was never touched.
            return;
        }

        var patched = universe == Universe.New;
        foreach (var function in copy.Functions)
        {
            memory.Write(function.PatchAddress,
                patched ? Redirects.Patched(function) : Redirects.Restored(function, FunctionStack.Below(state, copy, function.Address)));
        }

        // A child settled patched keeps the replaced patches' code mapped but no longer records them.
        var settled = patched
            ? Patched(state, copy).State with { SlotPages = state.SlotPages }
            : state.Replace(copy, copy with { Phase = PatchPhase.Loading });
        store.Write(StateLayout.Serialize(settled));
        Notice($"'{patch.Name}': child {child}, forked during the transition, settled {(patched ? "patched" : "unpatched")}");
    }
}
