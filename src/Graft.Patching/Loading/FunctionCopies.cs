using System.Runtime.CompilerServices;
using Graft.Elf;
using Graft.Elf.Dwarf;

namespace Graft.Patching.Loading;

/// <summary>
/// Other code that runs as a function and that a patch of it leaves unchanged, said as warnings before anything
/// changes: gcc's clones of it (<c>foo.isra.0</c>, <c>foo.constprop.0</c>, <c>foo.part.0</c>), which callers may call
/// instead, and other names at its address (identical code folding, aliases), which a patch changes too.
/// </summary>
internal static class FunctionCopies
{
    private static readonly string[] CloneMarks = [".isra.", ".constprop.", ".part.", ".lto_priv.", ".specialized."];

    // Read once per object: its DWARF can be large.
    private static readonly ConditionalWeakTable<ElfFile, InlineKnowledge> Inlined = [];

    // Indexed once per object: a patch of 1,000 functions asks 1,000 times.
    private static readonly ConditionalWeakTable<ElfFile, CopyIndex> Indexes = [];

    public static IEnumerable<string> Warnings(ElfFile elf, ElfSymbol function, string fileName)
    {
        var knowledge = Inlined.GetValue(elf, InlineKnowledge.Read);
        if (knowledge.Copies?.CallersOf(function.Name) is { Count: > 0 } callers)
        {
            yield return $"'{function.Name}' in {fileName} is inlined into {string.Join(", ", callers.Select(c => c.Value == 1 ? c.Key : $"{c.Key} ({c.Value} times)"))}, "
                + "whose copies keep the old code whatever this patch does; replace those functions too";
        }
        else if (knowledge.Unknown is { } why)
        {
            yield return $"{fileName}: {why}: copies of '{function.Name}' inlined into its callers cannot be seen";
        }

        if (elf.Symbols.Count == 0)
        {
            var why = elf.SeparateDebug is { File: null } search ? $" ({search.Missing})" : "";
            yield return $"{fileName} has no symbol table{why}: copies of '{function.Name}' the compiler made, and parts of it placed apart (.cold), cannot be seen";
            yield break;
        }

        var clones = ClonesOf(elf, function.Name);
        if (clones.Count > 0)
        {
            yield return $"'{function.Name}' in {fileName} has copies made by the compiler, which its callers may call instead and this patch leaves unchanged: "
                + $"{string.Join(", ", clones)}; name them in the patch to replace them too";
        }

        var sharing = Indexes.GetValue(elf, CopyIndex.Read).NamesAt(function.Value)
            .Where(name => name != function.Name && name != function.Name + ".localalias")
            .ToList();
        if (sharing.Count > 0)
        {
            yield return $"'{function.Name}' in {fileName} shares its code with {string.Join(", ", sharing.Select(n => $"'{n}'"))} "
                + "(identical code folding, or an alias): patching it changes them too";
        }
    }

    /// <summary>The names of gcc's clones of <paramref name="function"/> in the object's symbol table.</summary>
    public static IReadOnlyList<string> ClonesOf(ElfFile elf, string function) => Indexes.GetValue(elf, CopyIndex.Read).ClonesOf(function);

    /// <summary>
    /// An object's function symbols by the name each is a clone of (<c>foo.part.0.isra.0</c> under both
    /// <c>foo</c> and <c>foo.part.0</c>), and by address (symbol table and dynamic symbols), names sorted.
    /// </summary>
    private sealed class CopyIndex(Dictionary<string, string[]> clones, Dictionary<ulong, string[]> byAddress)
    {
        public IReadOnlyList<string> ClonesOf(string function) => clones.GetValueOrDefault(function, []);

        public IReadOnlyList<string> NamesAt(ulong address) => byAddress.GetValueOrDefault(address, []);

        public static CopyIndex Read(ElfFile elf)
        {
            var clones = elf.Symbols.Where(s => s.Type == ElfSymbolType.Func && s.Size > 0)
                .SelectMany(s => CloneBases(s.Name).Select(origin => (Origin: origin, s.Name)))
                .GroupBy(c => c.Origin, c => c.Name)
                .ToDictionary(g => g.Key, g => g.Distinct().Order(StringComparer.Ordinal).ToArray());
            var byAddress = elf.Symbols.Concat(elf.DynamicSymbols)
                .Where(s => s.Type == ElfSymbolType.Func && s.IsDefined)
                .GroupBy(s => s.Value, s => s.Name)
                .ToDictionary(g => g.Key, g => g.Distinct().Order(StringComparer.Ordinal).ToArray());
            return new CopyIndex(clones, byAddress);
        }

        // Every prefix of the name that a clone mark follows.
        private static IEnumerable<string> CloneBases(string symbol)
        {
            foreach (var mark in symbol.Length > 1 ? CloneMarks : [])
            {
                for (var at = symbol.IndexOf(mark, 1, StringComparison.Ordinal); at > 0; at = symbol.IndexOf(mark, at + 1, StringComparison.Ordinal))
                {
                    yield return symbol[..at];
                }
            }
        }
    }
}

/// <summary>An object's inlined copies, or why they cannot be known.</summary>
internal sealed record InlineKnowledge(InlinedCopies? Copies, string? Unknown)
{
    public static InlineKnowledge Read(ElfFile elf)
    {
        try
        {
            return InlinedCopies.Read(elf) is { } copies
                ? new InlineKnowledge(copies, null)
                : new InlineKnowledge(null, "it has no DWARF debug information (.debug_info)");
        }
        catch (ElfFormatException error)
        {
            return new InlineKnowledge(null, $"its DWARF debug information cannot be read ({error.Message})");
        }
    }
}
