using Graft.Linux.Tracing;
using Graft.Model.Patches;
using Graft.Model.Signing;
using Graft.Model.State;

namespace Graft.Patching;

/// <summary>How a transition makes threads switch.</summary>
public enum ConsistencyModel
{
    /// <summary>The kernel livepatch's: each thread switches on its own, when its own stack is clean.</summary>
    PerThread,

    /// <summary>kpatch's: all threads stopped at once, switched together when every stack is clean.</summary>
    StopWorld,
}

/// <summary>What an apply, revert or continue did; <see cref="InFlight"/> is set when the transition did not finish.</summary>
public sealed record OperationReport(
    string PatchName,
    int Pid,
    TransitionStatistics Transition,
    IReadOnlyList<PatchedFunction> Functions,
    TransitionProgress? InFlight = null)
{
    /// <summary>What graft could not prove safe, said (as notices starting "warning: ") before anything changed.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>What stopping threads cost the target over the whole command, from attaching to detaching (graftd: the whole operation).</summary>
    public StopCost Stops { get; init; } = StopCost.None;

    /// <summary>apply: the SHA-256 of the patch file graft read (<see cref="PatchDefinition.Sha256"/>); revert: of the image the patch was loaded from.</summary>
    public string? Sha256 { get; init; }

    /// <summary>apply: whose signature graft verified on the patch file; null when it carries none.</summary>
    public PatchSigner? Signer { get; init; }
}

/// <summary>
/// How the transition went: attempts (sweeps for per-thread), threads moved out of bytes being rewritten, and, per-thread,
/// the threads switched with no stop: those that switched themselves at a call of a patched function, and those asleep in
/// a system call that Graft switched by a proposal. <see cref="Convergence"/>, per-thread: from the moment Graft put the
/// first int3 of the new entries in place to the moment it saw the last thread switched; null where there was no such
/// span (stop-world, a transition left in flight or taken up from an earlier graft).
/// </summary>
public sealed record TransitionStatistics(ConsistencyModel Model, int Attempts, int ThreadsMoved, int SelfSwitched = 0, int SwitchedAsleep = 0)
{
    public TimeSpan? Convergence { get; init; }
}

/// <summary>
/// What stopping threads cost the target: the longest time any one thread did not run its own
/// code (stopped, or running graft's injected calls) and what that stop was for, the most
/// threads stopped at the same moment, the threads graft sent on from its int3s, and the stops
/// by kind (<see cref="Linux.Tracing.StopStatistics"/> says how they are measured).
/// </summary>
public sealed record StopCost(TimeSpan LongestStop, string? LongestStopKind, int MostStoppedAtOnce, int TrapsHandled, IReadOnlyList<StopKindCost> Kinds)
{
    /// <summary>Before anything is measured.</summary>
    public static readonly StopCost None = new(TimeSpan.Zero, null, 0, 0, []);
}

/// <summary>A per-thread transition in flight: who has switched, and what holds the others.</summary>
public sealed record TransitionProgress(string Patch, bool Patching, int Threads, int Switched, IReadOnlyList<StuckThread> Stuck);

/// <summary>A thread that cannot switch yet, with its stack symbolized, innermost frame first.</summary>
public sealed record StuckThread(int Tid, string Reason, IReadOnlyList<string> Stack);
