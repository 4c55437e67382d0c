using Graft.Linux.Inspection;
using Graft.Linux.Tracing;
using Graft.Linux.Trust;
using Graft.Model.Patches;
using Graft.Model.Signing;
using Graft.Model.State;
using Graft.Patching.Audit;
using Graft.Patching.Loading;
using Graft.Patching.Service;
using Graft.Patching.Signing;
using Graft.Patching.Target;
using Graft.Patching.Transitions;

namespace Graft.Patching.Operations;

/// <summary>
/// The operations on a live process: apply a patch, revert it, continue a transition, report
/// one in flight, unload a disabled image, list. Each runs whole on one ptrace thread and
/// leaves the process as it found it when it fails before its transition starts. Notices go to
/// <paramref name="notice"/>; <paramref name="progress"/> hears how a transition stands as it runs.
/// </summary>
public sealed class Patcher(Action<string> notice, IProgress<TransitionSnapshot>? progress = null)
{
    private readonly WatchedProcess? watched;

    /// <summary>Operations on a process graftd holds: no attaching of their own, and libraries followed as they load.</summary>
    internal Patcher(Action<string> notice, IProgress<TransitionSnapshot>? progress, WatchedProcess watched)
        : this(notice, progress)
    {
        this.watched = watched;
    }

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long graft stays attached after an operation at most, serving the threads and
    /// watching for a fatal signal; less once every thread sleeps (<see cref="TargetProcess.Settle"/>).
    /// </summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a process found unreadable is given to report its death (the kernel's exit events follow a kill closely).</summary>
    private static readonly TimeSpan DeathNewsWait = TimeSpan.FromMilliseconds(200);

    /// <summary>The largest patch file graft reads: far above any real patch, far below what would exhaust memory.</summary>
    public const long MaxPatchBytes = 256L << 20;

    /// <summary>
    /// Opens a patch file once, checks it (<see cref="CheckedFile"/>), verifies its signature against
    /// the trust configuration (<see cref="SignatureCheck"/>) and then parses its descriptor from the
    /// bytes read; those bytes, signature included, are what the target loads. A bad file is refused
    /// with a <see cref="GraftException"/>.
    /// </summary>
    public static PatchDefinition ReadPatch(string path) => ReadPatch(path, audited: null);

    /// <summary>Reads a patch file as <see cref="ReadPatch(string)"/> does, telling <paramref name="audited"/> what it learns as it goes.</summary>
    internal static PatchDefinition ReadPatch(string path, AuditedOperation? audited)
    {
        try
        {
            var bytes = CheckedFile.Read(path, MaxPatchBytes).Bytes;
            audited?.Saw(bytes);
            var (content, signature) = SignatureBlock.Split(bytes, path);
            var signer = SignatureCheck.Verify(path, content.Span, signature, TrustConfiguration.Load());
            var patch = PatchFile.Parse(path, bytes) with { Signer = signer };
            audited?.Saw(patch);
            return patch;
        }
        catch (Exception e) when (e is PatchFormatException or UntrustedFileException)
        {
            throw new GraftException(GraftFailure.Refused, e.Message, e);
        }
    }

    /// <summary>The patches applied to a process, read from its state record without stopping it.</summary>
    public static TargetState List(int pid)
    {
        return OperatorErrors.Run(pid, () =>
        {
            using var memory = new RemoteMemory(pid);
            return new StateStore(ModuleMap.Read(pid, memory), memory).Read();
        });
    }

    /// <summary>
    /// Loads the patch into the process and switches it to the new functions: thread by thread
    /// (per-thread, the default), or all at once when no thread is inside any of them
    /// (stop-world). Applying a patch whose transition is in flight continues it, or reverses an
    /// unpatching. On a failure before the transition starts the process is left as it was.
    /// </summary>
    public OperationReport Apply(int pid, string patchPath, TimeSpan timeout, CancellationToken interruption = default,
        ConsistencyModel model = ConsistencyModel.PerThread, bool force = false) =>
        Apply(pid, ReadPatch(patchPath), timeout, interruption, model, force);

    /// <summary>Applies a patch read already (<see cref="ReadPatch(string)"/>), as <see cref="Apply(int, string, TimeSpan, CancellationToken, ConsistencyModel, bool)"/> does.</summary>
    public OperationReport Apply(int pid, PatchDefinition definition, TimeSpan timeout, CancellationToken interruption = default,
        ConsistencyModel model = ConsistencyModel.PerThread, bool force = false)
    {
        var deadline = Deadline.After(timeout, interruption);
        var report = Reported(pid, opened => opened.State.FindPatch(definition.Name) is { Phase: PatchPhase.Patching or PatchPhase.Unpatching } inFlight
            ? Resume(opened, inFlight, Universe.New, force, deadline)
            : new Application(opened, definition, deadline, notice, watched is not null, progress).Run(model, force));
        return report with { Sha256 = definition.Sha256, Signer = definition.Signer };
    }

    /// <summary>
    /// Puts back what lies below the patch (<see cref="Reversion"/>). Reverting a patch whose
    /// transition is in flight reverses it (or continues an unpatching).
    /// </summary>
    public OperationReport Revert(int pid, string patchName, TimeSpan timeout, CancellationToken interruption = default,
        ConsistencyModel model = ConsistencyModel.PerThread, bool force = false)
    {
        var deadline = Deadline.After(timeout, interruption);
        return Reported(pid, opened =>
        {
            var patch = opened.State.FindPatch(patchName)
                ?? throw new GraftException(GraftFailure.Refused, $"patch '{patchName}' is not applied to process {pid}");
            var report = patch.Phase is PatchPhase.Patching or PatchPhase.Unpatching
                ? Resume(opened, patch, Universe.Old, force, deadline)
                : new Reversion(opened, patch, deadline, notice, progress).Run(model, force);
            return report with { Sha256 = LoadedSha256(opened.Target, patch) };
        });
    }

    /// <summary>
    /// The SHA-256 of the image a patch was loaded from (its memfd, which stays after a revert), for the
    /// report and the audit trail; null when it cannot be read back, which must not fail an operation that is done.
    /// </summary>
    private static string? LoadedSha256(TargetProcess target, AppliedPatch patch)
    {
        try
        {
            return patch.LoadedFrom is null ? null : PatchCopy.ReadLoaded(target, patch).Sha256;
        }
        catch (GraftException)
        {
            return null;
        }
    }

    /// <summary>Resumes the sweeps of the transition in flight in the process (left by a timeout or a killed graft).</summary>
    public OperationReport Continue(int pid, TimeSpan timeout, CancellationToken interruption = default, bool force = false)
    {
        var deadline = Deadline.After(timeout, interruption);
        return Reported(pid, opened =>
        {
            var patch = opened.State.InTransition
                ?? throw new GraftException(GraftFailure.Refused, $"no transition is in flight in process {pid}");
            return Resume(opened, patch, Transition.Heading(patch), force, deadline);
        });
    }

    /// <summary>
    /// The transition in flight in the process, if any: how many threads have switched, and
    /// each other thread with its stack and what holds it (the kernel's stalled-task report).
    /// Threads are stopped one at a time to be unwound; nothing in the target changes.
    /// </summary>
    public TransitionProgress? Status(int pid) => OnTarget(pid, target =>
    {
        var store = new StateStore(target.Modules, target.Memory);
        return TransitionStatus.Read(target, store, store.Read());
    });

    /// <summary>
    /// Unloads the images of a reverted (or replaced) patch that stay loaded after it (graft
    /// unload, <see cref="Recovery.UnloadImages"/>). Returns how many images were unloaded.
    /// </summary>
    public int Unload(int pid, string patchName) => Change(pid, opened => Recovery.UnloadImages(opened, patchName, notice));

    /// <summary>
    /// Drives a started transition to its end: sweeps until the deadline, forces the threads
    /// still stuck if asked, and completes. Past the deadline the transition stays in flight
    /// inside the target, and the report says so. <paramref name="progress"/> hears of each sweep.
    /// </summary>
    internal static OperationReport Drive(Transition transition, int pid, bool force, Deadline deadline, IProgress<TransitionSnapshot>? progress)
    {
        var stuck = transition.TryComplete(deadline, progress);
        if (stuck.Count > 0 && force)
        {
            transition.Force();
        }
        else if (stuck.Count > 0)
        {
            return new OperationReport(transition.Patch.Name, pid, transition.Statistics(), transition.Patch.Functions, transition.Progress());
        }

        var functions = transition.Patch.Functions;
        transition.Complete();
        return new OperationReport(transition.Patch.Name, pid, transition.Statistics(), functions);
    }

    /// <summary>Continues a transition in flight towards <paramref name="goal"/>, reversing it first if it was heading the other way.</summary>
    private OperationReport Resume(OpenTarget opened, AppliedPatch patch, Universe goal, bool force, Deadline deadline)
    {
        using var transition = Transition.Init(opened.Target, opened.Store, opened.State, patch, Transition.Heading(patch), notice);
        if (transition.Goal != goal)
        {
            transition.Reverse();
        }

        return Drive(transition, opened.Target.Pid, force, deadline, progress);
    }

    /// <summary>
    /// An operation that changes the process: refused for a process stopped by job control or
    /// whose seccomp filter would kill graft's calls, and run after what an interrupted graft
    /// left behind is cleaned up.
    /// </summary>
    private T Change<T>(int pid, Func<OpenTarget, T> work) => OnTarget(pid, target => Open(target, work), (result, _) => result, SettleTime);

    /// <summary>
    /// An operation that changes the process (<see cref="Change"/>) and reports it, with what
    /// stopping threads cost the target over the whole command: from attaching to detaching
    /// (under graftd, which stays attached, over the operation).
    /// </summary>
    private OperationReport Reported(int pid, Func<OpenTarget, OperationReport> work) =>
        OnTarget(pid, target => Open(target, work), (report, stops) => report with { Stops = stops }, SettleTime);

    private T Open<T>(TargetProcess target, Func<OpenTarget, T> work)
    {
        RefuseIfStopped(target);
        SeccompCheck.Run(target);
        var store = new StateStore(target.Modules, target.Memory);
        return work(new OpenTarget(target, store, Recovery.CleanUpInterrupted(target, store, store.Read(), notice)));
    }

    /// <summary>Reads the process: nothing in it changes, so there is nothing to settle.</summary>
    private T OnTarget<T>(int pid, Func<TargetProcess, T> work) => OnTarget(pid, work, (result, _) => result, TimeSpan.Zero);

    /// <summary>
    /// Runs <paramref name="work"/> attached to the process, then serves its threads for
    /// <paramref name="settle"/>; <paramref name="measured"/> adds what its stops cost, once the
    /// last of them has ended.
    /// </summary>
    private T OnTarget<T>(int pid, Func<TargetProcess, T> work, Func<T, StopCost, T> measured, TimeSpan settle)
    {
        return watched is not null
            ? OperatorErrors.Run(pid, () => watched.Run(pid, target =>
            {
                // graftd stays attached: this command's stops are the ones from here on.
                target.ResetStopCost();
                return measured(Settled(target), target.StopCost);
            }))
            : OperatorErrors.Run(pid, () => PtraceThread.Run(() =>
            {
                T result;
                var target = TargetProcess.Attach(pid);
                using (target)
                {
                    result = Settled(target);
                }

                // Read after detaching, which stops the few threads that cannot be let go running (Tracee.Dispose).
                return measured(result, target.StopCost);
            }));

        // Exit 0 says the target runs the new code and is alive: a replacement that faults at once is caught here,
        // as a fatal signal reported with where it struck, instead of a moment after graft has gone.
        T Settled(TargetProcess target)
        {
            T result;
            using (NoCollection.Begin())
            {
                try
                {
                    result = work(target);
                }
                catch (Exception e) when (e is Linux.Tracing.TargetGoneException or Linux.Tracing.RemoteMemoryException)
                {
                    // A thread found gone, or memory that cannot be read, may be a process that died: of a fatal signal
                    // graft noted as it passed it on, or killed. What graft has not served yet says which; that says more.
                    target.ThrowIfDied();
                    target.Pump(DeathNewsWait);
                    throw;
                }
            }

            target.Settle(settle);
            return result;
        }
    }

    /// <summary>
    /// Code run in the target while the process is stopped by job control would run while it
    /// is meant to be still, and whoever stopped it expects to find it as it was.
    /// </summary>
    private static void RefuseIfStopped(TargetProcess target)
    {
        if (target.IsJobControlStopped())
        {
            throw new TargetStoppedException(target.Pid);
        }
    }
}

/// <summary>A process an operation holds, its state store, and the record as the operation found it.</summary>
internal sealed record OpenTarget(TargetProcess Target, StateStore Store, TargetState State);
