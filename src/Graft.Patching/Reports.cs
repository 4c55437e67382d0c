using Graft.Core.State;
using Graft.Patching.Transition;

namespace Graft.Patching;

/// <summary>What an apply or revert did.</summary>
public sealed record OperationReport(string PatchName, int Pid, TransitionStatistics Transition, IReadOnlyList<PatchedFunction> Functions);
