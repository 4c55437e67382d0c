using Graft.Core.Patches;
using Graft.Core.State;
using Graft.Elf;
using Graft.Linux.Inspection;
using Graft.Patching.Target;
using Graft.X86;

namespace Graft.Patching.Loading;

/// <summary>
/// Matches a patch against a process before anything in it changes (DESIGN invariant 4): every
/// refusal is found here, with its own message.
/// </summary>
internal static class PatchResolver
{
    public static ResolvedPatch Resolve(PatchDefinition patch, TargetProcess target, TargetState state)
    {
        if (state.FindPatch(patch.Name) is not null)
        {
            throw Refuse($"patch '{patch.Name}' is already applied to process {target.Pid}");
        }

        if (target.Modules.Modules.Any(m => m.Path == FilePaths.Canonical(patch.Path)))
        {
            throw Refuse($"{patch.Path} is already loaded in process {target.Pid}; rebuild the patch to a new file name");
        }

        var functions = new List<ResolvedFunction>();
        foreach (var obj in patch.Objects)
        {
            var module = FindObject(target, obj.Name, obj.BuildId);
            functions.AddRange(obj.Functions.Select(f => ResolveFunction(target, state, module, f)));
        }

        if (functions.GroupBy(f => f.Address).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw Refuse($"patch '{patch.Name}' replaces '{twice.First().Definition.OldName}' twice");
        }

        var locals = patch.LocalSymbols.Select(l => ResolveLocal(target, l)).ToList();
        return new ResolvedPatch(patch, functions, locals);
    }

    private static LoadedModule FindObject(TargetProcess target, string? name, string? buildId)
    {
        var module = target.Modules.Find(name)
            ?? throw Refuse($"object '{name}' is not loaded in process {target.Pid}");
        if (buildId is not null && !string.Equals(buildId, module.BuildId, StringComparison.OrdinalIgnoreCase))
        {
            throw Refuse($"build-id mismatch for {module.Path}: the patch requires {buildId}, process {target.Pid} has {module.BuildId ?? "none"}");
        }

        return module;
    }

    private static ResolvedFunction ResolveFunction(TargetProcess target, TargetState state, LoadedModule module, FunctionDefinition function)
    {
        var lookup = ElfSymbolLookup.Find(module.Elf, function.OldName, function.OldSympos, ElfSymbolType.Func);
        if (lookup.Symbol is not { } symbol)
        {
            throw Refuse($"{module.FileName}: {lookup.Message}");
        }

        var address = module.LoadBias + symbol.Value;
        if (symbol.Size == 0)
        {
            throw Refuse($"cannot patch '{function.OldName}' in {module.FileName}: its symbol has no size, so its code cannot be checked");
        }

        if (state.PatchOf(address) is { } other)
        {
            throw Refuse($"'{function.OldName}' in {module.FileName} is already replaced by patch '{other.Name}'; revert that patch first");
        }

        var code = target.Tracee.Memory.Read(address, (int)Math.Min(symbol.Size, 1 << 20));
        var analysis = PrologueAnalyzer.Analyze(code, address);
        if (!analysis.IsPatchable)
        {
            throw Refuse($"cannot patch '{function.OldName}' in {module.FileName}: {analysis.Message}");
        }

        return new ResolvedFunction(function, module, address, symbol.Size, analysis);
    }

    private static ResolvedLocalSymbol ResolveLocal(TargetProcess target, LocalSymbolReference reference)
    {
        var module = FindObject(target, reference.Object, null);
        var lookup = ElfSymbolLookup.Find(module.Elf, reference.Name, reference.Sympos,
            ElfSymbolType.Func, ElfSymbolType.Object, ElfSymbolType.NoType);
        return lookup.Symbol is { } symbol
            ? new ResolvedLocalSymbol(reference, module.LoadBias + symbol.Value)
            : throw Refuse($"local symbol of the patch: {module.FileName}: {lookup.Message}");
    }

    private static GraftException Refuse(string message) => new(GraftFailure.Refused, message);
}
