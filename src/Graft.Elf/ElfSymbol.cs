namespace Graft.Elf;

/// <summary>One symbol table entry. <see cref="Version"/> is set only for .dynsym entries with a named
/// version (not for the local and base-global indices); <see cref="IsHiddenVersion"/> marks a non-default
/// version (readelf's single '@').</summary>
public sealed record ElfSymbol(
    string Name,
    ulong Value,
    ulong Size,
    ElfSymbolType Type,
    ElfSymbolBinding Binding,
    byte Visibility,
    ushort SectionIndex,
    string? Version,
    bool IsHiddenVersion)
{
    public bool IsDefined => SectionIndex != 0;
}

/// <summary>STT_* values; others pass through as their number.</summary>
public enum ElfSymbolType : byte
{
    NoType = 0,
    Object = 1,
    Func = 2,
    Section = 3,
    File = 4,
    Common = 5,
    Tls = 6,
    GnuIFunc = 10,
}

/// <summary>STB_* values; others pass through as their number.</summary>
public enum ElfSymbolBinding : byte
{
    Local = 0,
    Global = 1,
    Weak = 2,
    GnuUnique = 10,
}
