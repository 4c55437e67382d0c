using System.Text;
using Graft.Elf;
using Graft.X86.References;

namespace Graft.Patching.Building.FromDiff;

/// <summary>
/// Whether a section of one build holds the same code or data as a section of the other: the
/// same bytes outside the relocated fields, and relocations of the same types at the same places
/// that mean the same thing (<see cref="Meaning"/>), compared by symbol name rather than by the
/// addends an assembler happens to give them.
/// </summary>
internal static class SectionComparison
{
    public static bool Same(CompiledObject a, ElfSection sectionA, CompiledObject b, ElfSection sectionB) =>
        SameRelocations(a, sectionA, b, sectionB)
        && Masked(a.Bytes(sectionA), a.RelocationsOf(sectionA)).AsSpan().SequenceEqual(Masked(b.Bytes(sectionB), b.RelocationsOf(sectionB)));

    /// <summary>
    /// For code whose relocations mean the same in both builds: the immediate operands that differ between them,
    /// original and patched (<see cref="ImmediateDifferences"/>); null when anything else differs.
    /// </summary>
    public static IReadOnlyList<(ulong Original, ulong Patched)>? DifferingImmediates(CompiledObject a, ElfSection sectionA, CompiledObject b, ElfSection sectionB) =>
        CompiledObject.IsCode(sectionA) && SameRelocations(a, sectionA, b, sectionB)
            ? ImmediateDifferences.Of(Masked(a.Bytes(sectionA), a.RelocationsOf(sectionA)), Masked(b.Bytes(sectionB), b.RelocationsOf(sectionB)))
            : null;

    private static bool SameRelocations(CompiledObject a, ElfSection sectionA, CompiledObject b, ElfSection sectionB)
    {
        if (sectionA.Size != sectionB.Size || sectionA.Type != sectionB.Type)
        {
            return false;
        }

        var relocationsA = a.RelocationsOf(sectionA);
        var relocationsB = b.RelocationsOf(sectionB);
        if (relocationsA.Count != relocationsB.Count)
        {
            return false;
        }

        for (int i = 0; i < relocationsA.Count; i++)
        {
            var (x, y) = (relocationsA[i], relocationsB[i]);
            if (x.Offset != y.Offset || x.Type != y.Type || Meaning(a, sectionA, x) != Meaning(b, sectionB, y))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The section's bytes with every relocated field zeroed.</summary>
    public static byte[] Masked(byte[] bytes, IEnumerable<ElfRelocation> relocations)
    {
        foreach (var relocation in relocations)
        {
            var end = Math.Min(bytes.Length, (int)relocation.Offset + RelocationKinds.FieldSize(relocation.Type));
            bytes.AsSpan((int)relocation.Offset, Math.Max(0, end - (int)relocation.Offset)).Clear();
        }

        return bytes;
    }

    /// <summary>
    /// What a relocation refers to, independent of where things lie in the object: a named
    /// function or variable and the offset into it; for a string literal the string itself; for
    /// other anonymous constants the bytes referred to.
    /// </summary>
    public static string Meaning(CompiledObject obj, ElfSection within, ElfRelocation relocation)
    {
        var symbol = relocation.Symbol;
        if (symbol is null)
        {
            return "(none)";
        }

        if (obj.Place(within, relocation) is not var (target, offset))
        {
            return $"{symbol.Name}{relocation.Addend:+0;-0}";
        }

        if (obj.NamedAt(target, offset) is { } named)
        {
            return $"{named.Name}{offset - (long)named.Value:+0;-0}";
        }

        var data = obj.Bytes(target);
        if (CompiledObject.IsStrings(target) && offset >= 0 && offset < data.Length)
        {
            var length = data.AsSpan((int)offset).IndexOf((byte)0);
            return "string \"" + Encoding.UTF8.GetString(data, (int)offset, length < 0 ? data.Length - (int)offset : length) + "\"";
        }

        // Anonymous constants (switch tables, floating-point literals): the whole section, what it refers to
        // by name (one level: enough to tell tables apart), and the place in it.
        var inner = obj.RelocationsOf(target).Select(r => $"{r.Offset}:{r.Type}:{r.Symbol?.Name}{r.Addend:+0;-0}");
        return $"{target.Name}@{offset}:{Convert.ToHexString(Masked(data, obj.RelocationsOf(target)))}[{string.Join(',', inner)}]";
    }
}
