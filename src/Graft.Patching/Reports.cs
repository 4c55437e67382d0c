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
}

/// <summary>
/// What the transition cost the target: attempts (sweeps for per-thread), the longest time any
/// one thread was stopped, the most threads stopped at the same moment, threads moved out of
/// bytes being rewritten, and threads sent on from Graft's int3s.
/// </summary>
public sealed record TransitionStatistics(ConsistencyModel Model, int Attempts, TimeSpan LongestStop, int MostStoppedAtOnce, int ThreadsMoved, int TrapsHandled);

/// <summary>A per-thread transition in flight: who has switched, and what holds the others.</summary>
public sealed record TransitionProgress(string Patch, bool Patching, int Threads, int Switched, IReadOnlyList<StuckThread> Stuck);

/// <summary>A thread that cannot switch yet, with its stack symbolized, innermost frame first.</summary>
public sealed record StuckThread(int Tid, string Reason, IReadOnlyList<string> Stack);
