using System.Diagnostics;
using Graft.Elf;
using Graft.Patching.Loading;
using Graft.X86;
using Graft.X86.Contract;

namespace Graft.Patching.Contract;

/// <summary>
/// graft analyze: every function of an object as graft would see it when asked to patch it, without any process:
/// whether its entry can take the jump (or why not), and which caller-saved registers its callers may rely on it
/// leaving alone. A replacement that may change those (any replacement that calls out does) is reached through the
/// register-preserving entry.
/// </summary>
public static class ObjectSurvey
{
    private static readonly RegisterSet Compared = RegisterSet.CallerSaved.Except(RegisterSet.X87);

    public static ObjectSurveyReport Run(string path)
    {
        ElfFile elf;
        try
        {
            elf = ElfFile.Load(path);
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            throw new GraftException(GraftFailure.Refused, $"cannot read {path}: {e.Message}", e);
        }

        var clock = Stopwatch.StartNew();
        var analysis = new ContractAnalysis(elf);
        var hooks = new ProfilingHooks(elf, 0);
        var symbols = (elf.Symbols.Count > 0 ? elf.Symbols : elf.DynamicSymbols)
            .Where(s => s.IsDefined && s.Type == ElfSymbolType.Func && s.Size > 0)
            .DistinctBy(s => s.Value)
            .OrderBy(s => s.Value)
            .ToList();
        var functions = symbols.Select(symbol => Survey(elf, analysis, hooks, symbol)).ToList();
        return new ObjectSurveyReport(path, elf.SymbolTableName, functions, clock.Elapsed);
    }

    private static FunctionSurvey Survey(ElfFile elf, ContractAnalysis analysis, ProfilingHooks hooks, ElfSymbol symbol)
    {
        byte[] code = new byte[symbol.Size];
        if (!elf.TryReadAtAddress(symbol.Value, code))
        {
            return new FunctionSurvey(symbol.Name, symbol.Value, "unreadable", "its bytes lie outside the file's segments", "", false);
        }

        PrologueAnalysis prologue = PrologueAnalyzer.Analyze(code, symbol.Value, (at, length) =>
        {
            var data = new byte[length];
            return elf.TryReadAtAddress(at, data) ? data : null;
        }, hooks.IsHook);
        if (!prologue.IsPatchable)
        {
            return new FunctionSurvey(symbol.Name, symbol.Value, prologue.Refusal.ToString(), prologue.Message, "", false);
        }

        FunctionContract contract = analysis.Of(symbol.Value);
        RegisterSet kept = Compared.Except(contract.Clobbers);
        return new FunctionSurvey(symbol.Name, symbol.Value, "patchable", null, kept.ToString(), !contract.NeedsAlignedStack);
    }
}

/// <summary>What <see cref="ObjectSurvey"/> found, function by function, and how long it took.</summary>
public sealed record ObjectSurveyReport(string Path, string SymbolTable, IReadOnlyList<FunctionSurvey> Functions, TimeSpan Elapsed)
{
    public int Patchable => Functions.Count(f => f.Verdict == "patchable");

    /// <summary>Patchable functions whose callers may rely on some register: a replacement that calls out needs the preserving entry.</summary>
    public int NeedPreserving => Functions.Count(f => f.Verdict == "patchable" && (f.Kept.Length > 0 || f.MayBeCalledMisaligned));

    public IReadOnlyDictionary<string, int> Refused => Functions.Where(f => f.Verdict != "patchable")
        .GroupBy(f => f.Verdict).OrderByDescending(g => g.Count()).ToDictionary(g => g.Key, g => g.Count());
}

/// <param name="Verdict">"patchable", or the refusal's kind.</param>
/// <param name="Kept">The caller-saved registers its callers may rely on it leaving alone.</param>
/// <param name="MayBeCalledMisaligned">Nothing it reaches needs an aligned stack, so callers may call it with rsp misaligned.</param>
public sealed record FunctionSurvey(string Name, ulong Address, string Verdict, string? Reason, string Kept, bool MayBeCalledMisaligned);
