using Graft.Elf;

namespace Graft.Linux.Inspection;

/// <summary>Function symbols of one object sorted by address, for symbolizing program counters.</summary>
internal sealed class FunctionIndex
{
    private readonly ElfSymbol[] sorted;

    public FunctionIndex(IReadOnlyList<ElfSymbol> symbols)
    {
        sorted = [.. symbols
            .Where(s => s.IsDefined && s.Type is ElfSymbolType.Func or ElfSymbolType.GnuIFunc && s.Size > 0)
            .OrderBy(s => s.Value)
            .ThenBy(Preference)];
    }

    /// <summary>
    /// Among names of one address (a debug file's .symtab has many: <c>__GI___libc_read</c>, <c>__read</c>, <c>read</c>),
    /// the one <see cref="Find"/> gives, sorted last: global before local, the default version before a hidden one,
    /// a public name before one with a leading underscore.
    /// </summary>
    private static int Preference(ElfSymbol symbol) =>
        (symbol.Binding == ElfSymbolBinding.Local ? 0 : 4) + (symbol.IsHiddenVersion ? 0 : 2) + (symbol.Name.StartsWith('_') ? 0 : 1);

    public ElfSymbol? Find(ulong fileAddress)
    {
        var low = 0;
        var high = sorted.Length - 1;
        ElfSymbol? candidate = null;
        while (low <= high)
        {
            var middle = low + ((high - low) / 2);
            if (sorted[middle].Value <= fileAddress)
            {
                candidate = sorted[middle];
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        // Symbols may nest or overlap (aliases, cold parts); the closest start wins if it covers the address.
        return candidate is not null && fileAddress < candidate.Value + candidate.Size ? candidate : null;
    }
}
