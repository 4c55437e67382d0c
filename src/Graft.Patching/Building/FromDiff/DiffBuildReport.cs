namespace Graft.Patching.Building.FromDiff;

/// <summary>What `graft build --diff` decided, function by function, and the binary the patch was proven against.</summary>
public sealed record DiffBuildReport(
    string Patch,
    string Name,
    string Binary,
    string? BinaryBuildId,
    IReadOnlyList<FunctionDecision> Functions,
    IReadOnlyList<string> NewData,
    IReadOnlyList<string> UsesFromBinary);
