namespace Graft.Elf;

public enum SymbolLookupError
{
    None,
    NotFound,
    Ambiguous,
    PositionOutOfRange,
}

/// <summary>The outcome of <see cref="ElfSymbolLookup.Find"/>. <see cref="Count"/> is the number of
/// distinct candidates (by address); <see cref="Message"/> says what was found or what went wrong.</summary>
public sealed record SymbolLookupResult(ElfSymbol? Symbol, SymbolLookupError Error, int Count, string Message)
{
    public bool IsFound => Error == SymbolLookupError.None;
}
