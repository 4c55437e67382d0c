namespace Graft.Patching.Building.FromDiff;

/// <summary>
/// What `graft build --diff` decided, function by function, and the binary the patch was proven against.
/// <see cref="Functions"/> holds what the patch carries, then the functions whose code differs only in moved line
/// numbers, which it leaves alone (<see cref="FunctionChange.LinesMoved"/>).
/// </summary>
public sealed record DiffBuildReport(
    string Patch,
    string Name,
    string Binary,
    string? BinaryBuildId,
    IReadOnlyList<FunctionDecision> Functions,
    IReadOnlyList<string> NewData,
    IReadOnlyList<string> UsesFromBinary);
