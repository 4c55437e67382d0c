using Graft.Elf;

namespace Graft.Patching.Building.FromDiff;

/// <summary>How one function of the patched build relates to the original build.</summary>
public enum FunctionChange
{
    /// <summary>Its code changed: the patch carries the new code and redirects the old function to it.</summary>
    Changed,

    /// <summary>The fix adds it: the patch carries it; nothing is redirected.</summary>
    New,

    /// <summary>A part gcc split off a changed function (foo.cold): it goes with its function, and is not redirected.</summary>
    Part,

    /// <summary>
    /// Its code differs only in line numbers the diff moves (a __LINE__ that assert or redis's serverAssert passes as
    /// a constant): the patch leaves the running code alone, as kpatch-build does, and the old code reports the old line.
    /// </summary>
    LinesMoved,
}

/// <summary>One function the build decided on (to carry it, or to keep the running one), and why.</summary>
public sealed record FunctionDecision(string Object, string Name, FunctionChange Change, string Reason);

/// <summary>
/// Compares the original and the patched build of one object file, function by function and
/// data object by data object, and refuses what a live patch cannot do: existing data is already
/// laid out and initialised in the running process, and its constructors have already run.
/// </summary>
internal sealed class ObjectDiff
{
    private const string ColdSuffix = ".cold";

    private ObjectDiff(CompiledObject original, CompiledObject patched, List<FunctionDecision> functions, List<FunctionDecision> kept, List<string> newData)
    {
        Original = original;
        Patched = patched;
        Functions = functions;
        Kept = kept;
        NewData = newData;
    }

    public CompiledObject Original { get; }

    public CompiledObject Patched { get; }

    /// <summary>The functions the patch carries.</summary>
    public IReadOnlyList<FunctionDecision> Functions { get; }

    /// <summary>Functions whose code differs and that the patch still leaves alone (<see cref="FunctionChange.LinesMoved"/>).</summary>
    public IReadOnlyList<FunctionDecision> Kept { get; }

    /// <summary>Data objects only the patched build has: the patch carries them, zero or as initialised.</summary>
    public IReadOnlyList<string> NewData { get; }

    /// <exception cref="GraftException">Refused: data changed size or initial value, or a constructor changed.</exception>
    public static ObjectDiff Compare(string relativePath, CompiledObject original, CompiledObject patched, LineShifts lines)
    {
        RefuseChangedData(relativePath, original, patched);
        var changed = new HashSet<string>();
        var linesMoved = new Dictionary<string, IReadOnlyList<(ulong Original, ulong Patched)>>();
        var decisions = new List<FunctionDecision>();
        foreach (var (name, symbol) in patched.Functions.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (!original.Functions.TryGetValue(name, out var old))
            {
                decisions.Add(new FunctionDecision(relativePath, name, FunctionChange.New, "added by the diff"));
            }
            else if (!SectionComparison.Same(original, original.SectionOf(old), patched, patched.SectionOf(symbol)))
            {
                var immediates = SectionComparison.DifferingImmediates(original, original.SectionOf(old), patched, patched.SectionOf(symbol));
                if (immediates is { Count: > 0 } && immediates.All(i => lines.Moves(i.Original, i.Patched, original.SourceFile)))
                {
                    linesMoved[name] = immediates;
                }
                else
                {
                    changed.Add(name);
                }
            }
        }

        // A function and the parts gcc split off it are one piece of code: each jumps into the other.
        foreach (var name in changed.Select(Whole).Distinct().Order(StringComparer.Ordinal).ToList())
        {
            decisions.Add(new FunctionDecision(relativePath, name, FunctionChange.Changed, "its code changed"));
            foreach (var part in patched.Functions.Keys.Where(k => k.StartsWith(name + ".", StringComparison.Ordinal) && Whole(k) == name).Order(StringComparer.Ordinal))
            {
                decisions.Add(new FunctionDecision(relativePath, part, FunctionChange.Part, $"a part of {name}"));
            }
        }

        // A part whose function changed goes with it, moved lines or not.
        var kept = linesMoved.Where(m => !changed.Contains(Whole(m.Key))).OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => new FunctionDecision(relativePath, m.Key, FunctionChange.LinesMoved,
                $"only line numbers the diff moves differ ({string.Join(", ", m.Value.Select(i => $"{i.Original} -> {i.Patched}"))}): the running code is kept"))
            .ToList();
        RefuseChangedConstructors(relativePath, original, patched, decisions);
        var newData = patched.DataObjects.Keys.Where(k => !original.DataObjects.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        return new ObjectDiff(original, patched, decisions.DistinctBy(d => d.Name).ToList(), kept, newData);
    }

    private static string Whole(string name)
    {
        var cold = name.IndexOf(ColdSuffix, StringComparison.Ordinal);
        return cold > 0 ? name[..cold] : name;
    }

    private static void RefuseChangedData(string relativePath, CompiledObject original, CompiledObject patched)
    {
        foreach (var (name, symbol) in patched.DataObjects.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            if (!original.DataObjects.TryGetValue(name, out var old))
            {
                continue;
            }

            if (old.Size != symbol.Size)
            {
                throw new GraftException(GraftFailure.Refused,
                    $"{relativePath}: '{name}' changes size from {old.Size} to {symbol.Size} bytes: the running process has it laid out the old way; "
                    + "keep its layout and keep new fields in shadow variables (graft_shadow_*)");
            }

            if (!SectionComparison.Same(original, original.SectionOf(old), patched, patched.SectionOf(symbol)))
            {
                throw new GraftException(GraftFailure.Refused,
                    $"{relativePath}: the initial value of '{name}' changes: the running process initialised it long ago, and a patch changes code, not data; "
                    + "set the new value from a pre_patch or post_patch callback in a patch of your own");
            }
        }
    }

    private static void RefuseChangedConstructors(string relativePath, CompiledObject original, CompiledObject patched, List<FunctionDecision> decisions)
    {
        var constructors = Constructors(patched).ToHashSet();
        if (!constructors.SetEquals(Constructors(original)))
        {
            throw new GraftException(GraftFailure.Refused,
                $"{relativePath}: the constructors change ({string.Join(", ", constructors.Order(StringComparer.Ordinal))}): they ran when the process started and will not run again");
        }

        if (decisions.FirstOrDefault(d => constructors.Contains(d.Name)) is { } changed)
        {
            throw new GraftException(GraftFailure.Refused,
                $"{relativePath}: the constructor '{changed.Name}' changes: it ran when the process started and will not run again");
        }
    }

    // The functions .init_array and .ctors point at.
    private static IEnumerable<string> Constructors(CompiledObject obj) =>
        obj.Elf.Sections.Where(s => s.Name.StartsWith(".init_array", StringComparison.Ordinal) || s.Name.StartsWith(".ctors", StringComparison.Ordinal))
            .SelectMany(obj.RelocationsOf)
            .Select(r => r.Symbol is { Type: ElfSymbolType.Section } section
                ? obj.NamedAt(obj.Elf.Sections[section.SectionIndex], r.Addend)?.Name ?? "(anonymous)"
                : r.Symbol?.Name ?? "(none)");
}
