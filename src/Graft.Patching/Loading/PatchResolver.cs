using Graft.Elf;
using Graft.Linux.Inspection;
using Graft.Model.Patches;
using Graft.Model.State;
using Graft.Patching.Contract;
using Graft.Patching.Target;
using Graft.X86;

namespace Graft.Patching.Loading;

/// <summary>
/// Matches a patch against a process before anything in it changes (docs/ARCHITECTURE.md, invariant 4): every
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

        var objects = patch.Objects.Select(o => new ResolvedObject(o, FindObjectIfLoaded(target, o))).ToList();
        var functions = new List<ResolvedFunction>();
        foreach (var obj in objects.Where(o => o.Module is not null))
        {
            functions.AddRange(obj.Definition.Functions.Select(f => ResolveFunction(target, state, obj.Module!, f, patch)));
        }

        if (functions.GroupBy(f => f.Address).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw Refuse($"patch '{patch.Name}' replaces '{twice.First().Definition.OldName}' twice");
        }

        if (patch.Replace)
        {
            functions.AddRange(Nops(target, state, functions));
        }

        var locals = patch.LocalSymbols.Select(l => ResolveLocal(target, l)).ToList();
        return new ResolvedPatch(patch, objects, functions, locals);
    }

    /// <summary>
    /// A library object of the patch that the process has not loaded is left alone, as the
    /// kernel leaves a klp_object whose module is not loaded; the main executable is always there.
    /// </summary>
    private static LoadedModule? FindObjectIfLoaded(TargetProcess target, ObjectDefinition obj)
    {
        var module = obj.Name is null ? null : target.Modules.Find(obj.Name);
        return obj.Name is not null && (module is null || !target.IsAlive(module)) ? null : FindObject(target, obj.Name, obj.BuildId);
    }

    /// <summary>
    /// The kernel's klp_add_nops: every function an earlier patch replaces and the cumulative
    /// patch does not gets a nop, whose transition brings back the original code.
    /// </summary>
    private static IEnumerable<ResolvedFunction> Nops(TargetProcess target, TargetState state, List<ResolvedFunction> functions)
    {
        foreach (var replaced in state.Patches.SelectMany(p => p.Functions).DistinctBy(f => f.Address))
        {
            if (functions.Any(f => f.Address == replaced.Address)
                || target.Modules.Modules.FirstOrDefault(m => m.Path == replaced.ObjectPath) is not { } module)
            {
                continue;
            }

            yield return new ResolvedFunction(new FunctionDefinition(replaced.Name, replaced.Sympos, 0, 0), module, replaced.Address, replaced.Size,
                Analyze(target, state, replaced.Address, replaced.Size, replaced.Name, module))
            {
                IsNop = true,
                Parts = replaced.Parts,
            };
        }
    }

    private static LoadedModule FindObject(TargetProcess target, string? name, string? buildId)
    {
        var module = target.Modules.Find(name)
            ?? throw Refuse($"object '{name}' is not loaded in process {target.Pid}");
        if (WhyNotInFirstNamespace(target, module, LoaderDebugState.Find(target.Modules, target.Memory)) is { } why)
        {
            throw Refuse(why);
        }

        CheckBuildId(module, buildId, target.Pid);
        return module;
    }

    /// <summary>
    /// Why a library cannot be patched where the process has it, or null if it can: graft loads a patch in the first
    /// link-map namespace, where its calls (malloc, the library's own exports) bind, and the record keeps one copy of
    /// each object. dlmopen loads a library into a namespace of its own, with its own C library, and again at another
    /// address for each namespace: patching such a copy would mix two heaps, and patching one of two would leave the
    /// other running the old code.
    /// </summary>
    public static string? WhyNotInFirstNamespace(TargetProcess target, LoadedModule module, LoaderDebugState? debugState)
    {
        if (module.IsMainExecutable)
        {
            return null;
        }

        if (target.Modules.Modules.FirstOrDefault(m => m != module && m.Path == module.Path && target.IsAlive(m)) is { } copy)
        {
            return $"{module.FileName} is loaded more than once in process {target.Pid}, at 0x{Math.Min(module.Start, copy.Start):x} and 0x{Math.Max(module.Start, copy.Start):x} "
                + "(dlmopen loads a library again in each namespace): graft patches a library loaded once, in the program's namespace";
        }

        return debugState is not null && !debugState.FirstNamespaceBiases().Contains(module.LoadBias)
            ? $"{module.FileName} is loaded in process {target.Pid} only in a namespace of its own (dlmopen), at 0x{module.Start:x}: "
                + "graft patches a library loaded once, in the program's namespace"
            : null;
    }

    public static void CheckBuildId(LoadedModule module, string? buildId, int pid)
    {
        if (buildId is not null && !string.Equals(buildId, module.BuildId, StringComparison.OrdinalIgnoreCase))
        {
            throw Refuse($"build-id mismatch for {module.Path}: the patch requires {buildId}, process {pid} has {module.BuildId ?? "none"}");
        }
    }

    public static ResolvedFunction ResolveFunction(TargetProcess target, TargetState state, LoadedModule module, FunctionDefinition function, PatchDefinition patch)
    {
        var lookup = ElfSymbolLookup.Find(module.Elf, function.OldName, function.OldSympos, ElfSymbolType.Func);
        if (lookup.Symbol is not { } symbol)
        {
            // gcc may have kept only clones of a static function (scale.constprop.0 and no scale): say so.
            var clones = FunctionCopies.ClonesOf(module.Elf, function.OldName);
            throw Refuse($"{module.FileName}: {lookup.Message}"
                + (clones.Count > 0 ? $"; the compiler made copies of it, which a patch may name: {string.Join(", ", clones)}" : ""));
        }

        var address = module.LoadBias + symbol.Value;
        if (symbol.Size == 0)
        {
            throw Refuse($"cannot patch '{function.OldName}' in {module.FileName}: its symbol has no size, so its code cannot be checked");
        }

        var analysis = Analyze(target, state, address, symbol.Size, function.OldName, module);
        var entry = EntryPlanner.Plan(function.OldName, module.Elf, symbol.Value, patch.Elf, patch, function.NewFunction);
        return new ResolvedFunction(function, module, address, symbol.Size, analysis)
        {
            Entry = entry,
            Parts = FunctionParts.Of(module.Elf, symbol, module.LoadBias),
            Warnings = [.. FunctionCopies.Warnings(module.Elf, symbol, module.FileName), .. entry.Warnings],
        };
    }

    /// <summary>
    /// Checks the function's code as the program has it: where earlier patches are stacked on
    /// it, its window holds their jump, so the lowest one's record of the original bytes is
    /// put back in the copy analysed.
    /// </summary>
    private static PrologueAnalysis Analyze(TargetProcess target, TargetState state, ulong address, ulong size, string name, LoadedModule module)
    {
        var code = target.Memory.Read(address, (int)Math.Min(size, 1 << 20));
        if (FunctionStack.Bottom(state, address) is { } bottom)
        {
            Convert.FromHexString(bottom.OriginalBytes).CopyTo(code.AsSpan((int)(bottom.PatchAddress - address)));
        }

        var hooks = new ProfilingHooks(module.Elf, module.LoadBias);
        var analysis = PrologueAnalyzer.Analyze(code, address, (at, length) =>
        {
            // Switch tables are read-only data: the object's file has them as the process does.
            var data = new byte[length];
            return at >= module.LoadBias && module.Elf.TryReadAtAddress(at - module.LoadBias, data) ? data : null;
        }, hooks.IsHook);
        return analysis.IsPatchable ? analysis : throw Refuse($"cannot patch '{name}' in {module.FileName}: {analysis.Message}");
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
