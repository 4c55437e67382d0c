using Graft.Linux.Inspection;
using Graft.Model.Patches;
using Graft.Model.State;
using Graft.Patching.Contract;
using Graft.X86;

namespace Graft.Patching.Loading;

/// <summary>
/// A patch matched against one process: every object found (or not loaded), every function and
/// local symbol found, every function checked. <see cref="Functions"/> includes, for a
/// cumulative patch, the nops that send functions only the replaced patches touched back to
/// their original code.
/// </summary>
internal sealed record ResolvedPatch(
    PatchDefinition Definition,
    IReadOnlyList<ResolvedObject> Objects,
    IReadOnlyList<ResolvedFunction> Functions,
    IReadOnlyList<ResolvedLocalSymbol> LocalSymbols);

/// <summary>An object of the patch and the module it matched, null when the process has not loaded it.</summary>
internal sealed record ResolvedObject(ObjectDefinition Definition, LoadedModule? Module);

internal sealed record ResolvedFunction(FunctionDefinition Definition, LoadedModule Module, ulong Address, ulong Size, PrologueAnalysis Analysis)
{
    /// <summary>A cumulative patch's way back to the original code (its definition's new function is 0).</summary>
    public bool IsNop { get; init; }

    /// <summary>How calls reach the replacement; null for a nop.</summary>
    public EntryPlan? Entry { get; init; }

    /// <summary>Parts of the original placed apart from it (foo.cold).</summary>
    public IReadOnlyList<FunctionPart> Parts { get; init; } = [];

    /// <summary>What graft cannot prove safe about replacing it, said before anything changes.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public bool Contains(ulong address) => address >= Address && address < Address + Size;
}

internal sealed record ResolvedLocalSymbol(LocalSymbolReference Reference, ulong Address);
