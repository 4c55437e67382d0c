using Graft.Core.Patches;
using Graft.Linux.Inspection;
using Graft.X86;

namespace Graft.Patching.Loading;

/// <summary>A patch matched against one process: every function and local symbol found, every function checked.</summary>
internal sealed record ResolvedPatch(PatchDefinition Definition, IReadOnlyList<ResolvedFunction> Functions, IReadOnlyList<ResolvedLocalSymbol> LocalSymbols);

internal sealed record ResolvedFunction(FunctionDefinition Definition, LoadedModule Module, ulong Address, ulong Size, PrologueAnalysis Analysis)
{
    public bool Contains(ulong address) => address >= Address && address < Address + Size;
}

internal sealed record ResolvedLocalSymbol(LocalSymbolReference Reference, ulong Address);
