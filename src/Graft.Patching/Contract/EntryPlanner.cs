using System.Runtime.CompilerServices;
using Graft.Elf;
using Graft.Model.Patches;
using Graft.Model.State;
using Graft.X86.Contract;

namespace Graft.Patching.Contract;

/// <summary>
/// Decides how calls reach one replacement (docs/ARCHITECTURE.md, "What callers rely on"): straight, when it
/// changes no register its original leaves alone and needs no more stack alignment; otherwise through graft.h's
/// register-preserving entry, or not at all (a refusal that names the function and the reason). Addresses are
/// the patch file's.
/// </summary>
internal static class EntryPlanner
{
    private static readonly ConditionalWeakTable<ElfFile, ContractAnalysis> Analyses = [];

    /// <summary>The x87 stack is empty at every call and return but for a result, which both sides may change.</summary>
    private static readonly RegisterSet Compared = RegisterSet.CallerSaved.Except(RegisterSet.X87);

    public static EntryPlan Plan(string name, ElfFile original, ulong originalAddress, ElfFile patch, PatchDefinition definition, ulong replacementAddress)
    {
        FunctionContract old = AnalysisOf(original).Of(originalAddress);
        ContractAnalysis patchAnalysis = AnalysisOf(patch);
        FunctionContract @new = patchAnalysis.Of(replacementAddress);
        RegisterSet extra = (@new.Clobbers & Compared).Except(old.Clobbers);
        bool misaligned = !old.NeedsAlignedStack && @new.NeedsAlignedStack;
        var warnings = Warnings(name, old, @new, patch).ToList();
        if (extra.IsEmpty && !misaligned)
        {
            return new EntryPlan(new EntryPath(false, "the replacement changes no register the original leaves alone", "", 0), null, 0) { Warnings = warnings };
        }

        string why = string.Join(", and ", Reasons(extra, misaligned));
        if (definition.PreserveEntry == 0)
        {
            throw new GraftException(GraftFailure.Refused,
                $"cannot patch '{name}': its replacement {why}, and the patch has no graft_preserve entry to keep what callers rely on; rebuild it with this graft's graft.h");
        }

        var body = patchAnalysis.Body(replacementAddress)
            ?? throw new GraftException(GraftFailure.Refused, $"cannot patch '{name}': the code of its replacement cannot be read from the patch");
        int stackBytes = StackArguments.Of(patch, body, replacementAddress, name);
        bool saveVectors = extra.Overlaps(RegisterSet.Vectors | RegisterSet.Masks);
        bool passVectorReturn = old.Clobbers.Overlaps(RegisterSet.VectorReturn);
        RegisterSet restore = RegisterSet.GeneralCallerSaved.Except(old.Clobbers);
        RegisterSet kept = restore | (saveVectors ? (RegisterSet.Vectors | RegisterSet.Masks).Except(passVectorReturn ? RegisterSet.VectorReturn : default) : default);
        return new EntryPlan(
            new EntryPath(true, $"the replacement {why}", kept.ToString(), stackBytes),
            new PreservePlan(replacementAddress, restore, saveVectors, stackBytes, passVectorReturn),
            definition.PreserveEntry)
        {
            Warnings = warnings,
        };
    }

    /// <summary>What the callers' compiler may have concluded from the original that the replacement breaks, and graft cannot mend.</summary>
    private static IEnumerable<string> Warnings(string name, FunctionContract old, FunctionContract @new, ElfFile patch)
    {
        if (!old.SideEffects && @new.SideEffects)
        {
            yield return $"'{name}' writes no memory and calls nothing, so its callers' compiler may have found it pure and folded, merged or moved calls to it; "
                + "the replacement has side effects, which such a call site will not see";
        }

        if (old.CannotThrow && !@new.CannotThrow && RaisesExceptions(patch))
        {
            yield return $"'{name}' cannot throw, so its callers' compiler may have left their call sites without a landing pad; "
                + "an exception the replacement throws past them ends the process in std::terminate";
        }
    }

    private static bool RaisesExceptions(ElfFile patch) =>
        patch.DynamicSymbols.Any(s => !s.IsDefined && s.Name is "__cxa_throw" or "__cxa_rethrow" or "_Unwind_RaiseException");

    private static IEnumerable<string> Reasons(RegisterSet extra, bool misaligned)
    {
        if (!extra.IsEmpty)
        {
            yield return $"may change {extra}, which the original leaves alone";
        }

        if (misaligned)
        {
            yield return "needs an aligned stack, which callers of the original need not give";
        }
    }

    private static ContractAnalysis AnalysisOf(ElfFile elf) => Analyses.GetValue(elf, e => new ContractAnalysis(e));
}

/// <summary>The decision for one replacement, and what graft_preserve (at <paramref name="Thunk"/>) is told when calls go through it.</summary>
internal sealed record EntryPlan(EntryPath Path, PreservePlan? Preserve, ulong Thunk)
{
    /// <summary>What graft cannot prove safe about this replacement, said before anything changes.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}
