namespace Graft.Elf;

/// <summary>Finds a symbol by name and position the way the kernel's klp_find_object_symbol does:
/// old_sympos 0 requires the name to be unique, N ≥ 1 takes the Nth occurrence in symbol table order.</summary>
public static class ElfSymbolLookup
{
    /// <summary>Looks in <see cref="ElfFile.Symbols"/> (the object's own .symtab or its debug file's) if there are any, else in
    /// <see cref="ElfFile.DynamicSymbols"/>; only defined symbols of one of <paramref name="types"/> (any
    /// type when none are given). Entries at the same address (aliases, one name under several versions)
    /// count as one occurrence, represented by the first of them with a default (non-hidden) version.</summary>
    public static SymbolLookupResult Find(ElfFile elf, string name, ulong sympos, params ElfSymbolType[] types)
    {
        ArgumentNullException.ThrowIfNull(elf);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(types);
        bool useSymtab = elf.Symbols.Count > 1;
        IReadOnlyList<ElfSymbol> table = useSymtab ? elf.Symbols : elf.DynamicSymbols;
        List<ElfSymbol> occurrences = Occurrences(table, name, types);
        int count = occurrences.Count;
        if (count == 0)
        {
            string kinds = types.Length == 0 ? string.Empty : string.Join("/", types.Select(t => t.ToString().ToLowerInvariant())) + " ";
            // A stripped object: say which debug file would have had the symbol.
            string stripped = !useSymtab && elf.SeparateDebug is { File: null } search ? $"; {search.Missing}" : string.Empty;
            return new(null, SymbolLookupError.NotFound, 0, $"symbol '{name}' not found among the defined {kinds}symbols of {elf.SymbolTableName}{stripped}");
        }

        if (sympos == 0 && count > 1)
        {
            string kind = occurrences.All(s => s.Binding == ElfSymbolBinding.Local) ? "local symbols" : "symbols";
            return new(null, SymbolLookupError.Ambiguous, count, $"symbol '{name}' is ambiguous: {count} {kind} share the name; set old_sympos (1..{count})");
        }

        if (sympos > (ulong)count)
        {
            return new(null, SymbolLookupError.PositionOutOfRange, count,
                $"symbol '{name}' has {count} occurrence{(count == 1 ? string.Empty : "s")}; old_sympos {sympos} is out of range (1..{count})");
        }

        ElfSymbol symbol = occurrences[sympos == 0 ? 0 : (int)sympos - 1];
        return new(symbol, SymbolLookupError.None, count, $"symbol '{name}' (occurrence {Math.Max(sympos, 1)} of {count}) at 0x{symbol.Value:x}");
    }

    private static List<ElfSymbol> Occurrences(IReadOnlyList<ElfSymbol> table, string name, ElfSymbolType[] types)
    {
        var occurrences = new List<ElfSymbol>();
        var indexByAddress = new Dictionary<ulong, int>();
        foreach (ElfSymbol symbol in table)
        {
            if (!symbol.IsDefined || symbol.Name != name || (types.Length > 0 && !types.Contains(symbol.Type)))
            {
                continue;
            }

            if (!indexByAddress.TryGetValue(symbol.Value, out int index))
            {
                indexByAddress[symbol.Value] = occurrences.Count;
                occurrences.Add(symbol);
            }
            else if (occurrences[index].IsHiddenVersion && !symbol.IsHiddenVersion)
            {
                occurrences[index] = symbol;
            }
        }

        return occurrences;
    }
}
