using Graft.Core;
using Graft.Core.State;
using Graft.Linux.Tracing;
using Graft.Linux.Unwinding;
using Graft.Patching.Target;
using Graft.Patching.Transition;

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
        var blocker = Blocker(patch, goal, state.SlotPages);
        void Settle(int child, Universe universe) => SettleChild(target, patch, child, universe);

        target.Tracee.ResetStopStatistics();
        using var transition = install is not null
            ? PerThreadTransition.Begin(target, tableAddress, goal, blocker, Settle)
            : PerThreadTransition.Continue(target, tableAddress, goal, blocker, Settle);

        // The record first: a graft killed from here on leaves a transition the next one can continue or reverse.
        var inTransition = patch with { Phase = patching ? PatchPhase.Patching : PatchPhase.Unpatching };
        state = state.Replace(patch, inTransition);
        store.Write(StateLayout.Serialize(state));
        if (install is not null)
        {
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
        writer.Write([.. patch.Functions.Select(f => patching ? Redirects.ToDirect(f) : Redirects.ToOriginal(f))]);
        if (patching)
        {
            Synchronize(target, patch.Functions.Select(f => (Redirects.Dispatcher(f), (ulong)X86.SlotLayout.DispatcherCapacity)));
            store.Write(StateLayout.Serialize(state.Replace(inTransition, inTransition with { Phase = PatchPhase.Patched })));
        }
        else
        {
            Synchronize(target, [.. state.SlotPages.Select(p => (p.Address, p.Size)), (patch.ImageStart, patch.ImageEnd - patch.ImageStart)]);
            var remaining = state with { Patches = [.. state.Patches.Where(p => p != inTransition)] };
            var unusedPages = remaining.UnusedSlotPages();
            store.Write(StateLayout.Serialize(remaining with { SlotPages = [.. state.SlotPages.Except(unusedPages)] }));
            if (inTransition.Forced)
            {
                Notice($"'{patch.Name}': forced earlier, so its code stays loaded");
            }
            else
            {
                Unload(target, store, inTransition, unusedPages);
            }
        }

        Notice(Notices.Complete(patch.Name, patching));
        return new OperationReport(patch.Name, target.Pid, Statistics(), patch.Functions);
    }

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

    /// <summary>What keeps a thread from switching: old code on its stack when patching, the patch's code when unpatching.</summary>
    private static Func<ThreadStack, string?> Blocker(AppliedPatch patch, Universe goal, IReadOnlyList<SlotPage> pages) =>
        goal == Universe.New ? stack => OldCodeBlocker(stack, patch, pages) : stack => RevertBlocker(stack, patch, pages);

    private static string? OldCodeBlocker(ThreadStack stack, AppliedPatch patch, IReadOnlyList<SlotPage> pages)
    {
        foreach (var frame in stack.Frames)
        {
            if (patch.Functions.FirstOrDefault(f => frame.CallSite >= f.Address && frame.CallSite < f.Address + f.Size) is { } function)
            {
                return $"is running {function.Name} ({frame})";
            }

            if (Redirects.InSlotPages(pages, frame.Pc))
            {
                return $"is passing through a graft slot at 0x{frame.Pc:x}";
            }
        }

        return null;
    }

    /// <summary>
    /// Finishes the transition in a child forked while it was in flight: the child's one thread
    /// is stopped, so its entries get their final bytes directly, and its own record says where
    /// it ended. A child that ends unpatched keeps the patch loaded, recorded as loading, so the
    /// next graft on it unloads it.
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
            memory.Write(function.PatchAddress, Redirects.Final(function, patched));
        }

        store.Write(StateLayout.Serialize(state.Replace(copy, copy with { Phase = patched ? PatchPhase.Patched : PatchPhase.Loading })));
        Notice($"'{patch.Name}': child {child}, forked during the transition, settled {(patched ? "patched" : "unpatched")}");
    }
}
