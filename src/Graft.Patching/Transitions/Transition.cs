using System.Diagnostics;
using Graft.Model;
using Graft.Model.State;
using Graft.Patching.Redirect;
using Graft.Patching.Target;

namespace Graft.Patching.Transitions;

/// <summary>
/// One per-thread transition of one patch in one process, with the verbs of the kernel's
/// kernel/livepatch/transition.c. A new one: <see cref="Init"/>, the pre-(un)patch callbacks,
/// <see cref="Start"/>, then <see cref="TryComplete"/> (and <see cref="Force"/> if asked) and
/// <see cref="Complete"/> once no thread is left behind; <see cref="Cancel"/> ends one whose
/// callbacks failed before it started. One an earlier graft left in flight: <see cref="Init"/>
/// takes it up as started, and <see cref="Reverse"/> turns it round. Each verb checks its
/// precondition first; what each does to the record comes from <see cref="TransitionRecord"/>.
/// </summary>
internal sealed class Transition : IDisposable
{
    private enum Step
    {
        Initialized,
        Started,
        Completed,
        Canceled,
    }

    private readonly TargetProcess target;
    private readonly StateStore store;
    private readonly Action<string> notice;
    private readonly CodeWriter writer;
    private TransitionThreads threads;
    private Step step;
    private IReadOnlyList<StuckThread>? stuck;

    // Stopwatch timestamps: the first int3 of the entries' writing is in place (Start; a thread may take the new
    // entries from then on), and the first try that found no thread stuck.
    private long startedAt;
    private long convergedAt;

    private Transition(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch, Universe goal, Action<string> notice)
    {
        this.target = target;
        this.store = store;
        this.notice = notice;
        State = state;
        Patch = patch;
        Goal = goal;
        writer = new CodeWriter(target);
        writer.Prepare();
        target.PrepareUnwinding();
        var resumed = patch.Phase is PatchPhase.Patching or PatchPhase.Unpatching;
        threads = resumed ? OpenThreads() : BeginThreads();
        step = resumed ? Step.Started : Step.Initialized;
    }

    /// <summary>The record as this transition last wrote it.</summary>
    private TargetState State { get; set; }

    /// <summary>The patch as <see cref="State"/> holds it.</summary>
    public AppliedPatch Patch { get; private set; }

    public Universe Goal { get; private set; }

    private bool Patching => Goal == Universe.New;

    private ulong TableAddress => store.Address + StateLayout.ThreadTableOffset;

    /// <summary>
    /// klp_init_transition: the thread table. A new transition puts every thread in the
    /// universe opposite to <paramref name="goal"/>; one the record shows in flight towards
    /// <paramref name="goal"/> is taken up as an earlier graft left it, already started.
    /// </summary>
    public static Transition Init(TargetProcess target, StateStore store, TargetState state, AppliedPatch patch, Universe goal, Action<string> notice)
    {
        Precondition.Require(state.FindPatch(patch.Name) == patch, $"init: patch '{patch.Name}' is not the record's");
        Precondition.Require(state.InTransition is null || state.InTransition == patch, $"init: patch '{state.InTransition?.Name}' is in transition already");
        Precondition.Require(patch.Phase is PatchPhase.Patched || Heading(patch) == goal, $"init: patch '{patch.Name}' is heading the other way; init it as it heads, then reverse");
        return new Transition(target, store, state, patch, goal, notice);
    }

    /// <summary>
    /// klp_start_transition: the record first, so that a graft killed from here on leaves a
    /// transition the next one can continue or reverse; then the dispatchers; then the entries
    /// (<paramref name="install"/>) jump to them, and threads begin to switch.
    /// </summary>
    /// <param name="prepared">The patch as the pre-(un)patch callbacks left it.</param>
    public void Start(AppliedPatch prepared, IReadOnlyList<CodeEdit> install)
    {
        Precondition.Require(step == Step.Initialized, $"start: the transition is {step}, not initialized");
        Precondition.Require(prepared.Name == Patch.Name, $"start: patch '{prepared.Name}' is not the one initialized, '{Patch.Name}'");
        (State, Patch) = TransitionRecord.Start(State.Replace(Patch, prepared), prepared, Patching);
        store.Write(State);
        Dispatchers.Write(target, State, Patch, TableAddress);
        writer.Write(install);
        startedAt = writer.FirstInt3WrittenAt;
        step = Step.Started;
        notice(Notices.Starting(Patch.Name, Patching));
    }

    /// <summary>
    /// klp_reverse_transition: the transition in flight heads the other way; threads already
    /// switched switch back. As the kernel clears TIF_PATCH_PENDING and waits a grace period
    /// before it flips the target state, the threads' self-switch goes off, no thread is left
    /// inside a dispatcher, and only then do the record and the table head the other way.
    /// </summary>
    public void Reverse()
    {
        Precondition.Require(step == Step.Started, $"reverse: the transition is {step}, not started");
        threads.StopSelfSwitching(() => Synchronization.WaitUntilNoThreadIsIn(target, DispatcherCode()));
        Goal = Patching ? Universe.Old : Universe.New;
        notice(Notices.Reversing(Patch.Name, toPatching: Patching));
        notice(Notices.Starting(Patch.Name, Patching));
        threads.Dispose();
        (State, Patch) = TransitionRecord.Start(State, Patch, Patching);
        store.Write(State);
        threads = OpenThreads();
        stuck = null;
    }

    /// <summary>
    /// klp_try_complete_transition, repeated until the deadline: sweeps the threads, switching
    /// each whose stack is clean. Returns the threads still stuck, none once every thread has switched.
    /// <paramref name="progress"/> hears how the transition stands after each sweep, when no thread is held stopped.
    /// </summary>
    public IReadOnlyList<StuckThread> TryComplete(Deadline deadline, IProgress<TransitionSnapshot>? progress)
    {
        Precondition.Require(step == Step.Started, $"try-complete: the transition is {step}, not started");
        stuck = threads.Run(deadline, swept => progress?.Report(Snapshot(swept, deadline)));
        if (stuck.Count == 0 && convergedAt == 0)
        {
            convergedAt = Stopwatch.GetTimestamp();
        }

        return stuck;
    }

    /// <summary>klp_force_transition: the threads still stuck switch now, clean stack or not; the patch is recorded forced.</summary>
    public void Force()
    {
        Precondition.Require(step == Step.Started && stuck is { Count: > 0 }, "force: no thread is stuck in a started transition");
        notice(Notices.Forcing(Patching));
        threads.Force();
        (State, Patch) = TransitionRecord.Force(State, Patch);
        store.Write(State);
        stuck = [];
    }

    /// <summary>
    /// klp_complete_transition: the entries get their final bytes, no thread is left inside
    /// what that made unreachable (klp_synchronize_transition), then the callbacks and the
    /// final record (<see cref="Completion"/>).
    /// </summary>
    public void Complete()
    {
        Precondition.Require(step == Step.Started && stuck is { Count: 0 }, "complete: threads are still to switch");
        notice(Notices.Completing(Patch.Name, Patching));
        if (Patching)
        {
            writer.Write([.. Patch.Functions.Select(Redirects.ToPatched)]);
            Synchronization.WaitUntilNoThreadIsIn(target, [.. DispatcherCode(),
                .. Patch.Functions.Where(f => f.IsNop).Select(f => (f.Slot, (ulong)X86.SlotLayout.Size)),
                .. TransitionRecord.Replaced(State, Patch).SelectMany(Synchronization.CodeOf)]);
            Completion.Patched(target, store, State, Patch, notice);
        }
        else
        {
            writer.Write([.. Patch.Functions.Select(f => Redirects.ToRestored(f, FunctionStack.Below(State, Patch, f.Address)))]);
            Synchronization.WaitUntilNoThreadIsIn(target, [.. State.SlotPages.Select(p => (p.Address, p.Size)), (Patch.ImageStart, Patch.ImageEnd - Patch.ImageStart)]);
            Completion.Unpatched(target, store, State, Patch, notice);
        }

        step = Step.Completed;
        notice(Notices.Complete(Patch.Name, Patching));
    }

    /// <summary>klp_cancel_transition: a transition whose callbacks failed before it started ends; no thread ever switched.</summary>
    public void Cancel()
    {
        Precondition.Require(step == Step.Initialized, $"cancel: the transition is {step}, not initialized");
        threads.Dispose();
        step = Step.Canceled;
    }

    /// <summary>How many live threads there are and how many have switched (after a sweep).</summary>
    public TransitionProgress Progress()
    {
        var (count, switched) = threads.Progress();
        return new TransitionProgress(Patch.Name, Patching, count, switched, stuck ?? []);
    }

    private TransitionSnapshot Snapshot(IReadOnlyList<StuckThread> swept, Deadline deadline)
    {
        var (count, switched) = threads.Progress();
        return new TransitionSnapshot(Patch.Name, Patching, ConsistencyModel.PerThread, count, switched, swept.Count,
            swept.Count == 0 ? null : $"thread {swept[0].Tid} {swept[0].Reason}", deadline.Left);
    }

    public TransitionStatistics Statistics() => new(ConsistencyModel.PerThread, threads.Sweeps, writer.ThreadsMoved, threads.SelfSwitched, threads.SwitchedAsleep)
    {
        Convergence = startedAt != 0 && convergedAt != 0 ? Stopwatch.GetElapsedTime(startedAt, convergedAt) : null,
    };

    public void Dispose() => threads.Dispose();

    /// <summary>Where a patch recorded in transition is heading.</summary>
    public static Universe Heading(AppliedPatch patch) => patch.Phase == PatchPhase.Unpatching ? Universe.Old : Universe.New;

    /// <summary>The threads heading for <see cref="Goal"/> in a new table.</summary>
    private TransitionThreads BeginThreads() =>
        TransitionThreads.Begin(target, TableAddress, Goal, Blocking(), new EntryRewind(Patch.Functions), SettleChild);

    /// <summary>The threads heading for <see cref="Goal"/> in the table the target holds.</summary>
    private TransitionThreads OpenThreads() =>
        TransitionThreads.Continue(target, TableAddress, Goal, Blocking(), new EntryRewind(Patch.Functions), SettleChild);

    private TransitionThreads.Blocking Blocking() =>
        new(Blockers.For(State, Patch, Goal), [.. Blockers.ForSelfSwitch(State, Patch, Goal)]);

    private IEnumerable<(ulong Start, ulong Length)> DispatcherCode() =>
        Patch.Functions.Select(f => (Redirects.Dispatcher(f), (ulong)X86.SlotLayout.DispatcherCapacity));

    /// <summary>
    /// Finishes the transition in a child forked while it was in flight: the child's one thread
    /// is stopped, so its entries get their final bytes directly, and its own record says where
    /// it ended (<see cref="TransitionRecord.SettleChild"/>). Callbacks do not run in the child:
    /// its parent ran them.
    /// </summary>
    private void SettleChild(int child, Universe universe)
    {
        using var memory = new Linux.Tracing.RemoteMemory(child);
        var childStore = new StateStore(target.Modules, memory);
        var state = childStore.Read();
        if (state.FindPatch(Patch.Name) is not { Phase: PatchPhase.Patching or PatchPhase.Unpatching } copy)
        {
            // Forked before the transition was recorded: the child's code was never touched.
            return;
        }

        var patched = universe == Universe.New;
        foreach (var function in copy.Functions)
        {
            memory.Write(function.PatchAddress,
                patched ? Redirects.PatchedEntry(function) : Redirects.RestoredEntry(function, FunctionStack.Below(state, copy, function.Address)));
        }

        childStore.Write(TransitionRecord.SettleChild(state, copy, patched));
        notice($"'{Patch.Name}': child {child}, forked during the transition, settled {(patched ? "patched" : "unpatched")}");
    }
}
