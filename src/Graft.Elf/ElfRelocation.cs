namespace Graft.Elf;

/// <summary>One Elf64_Rela entry. <see cref="Symbol"/> is resolved in the symbol table the relocation
/// section links to; null for symbol index 0 or when the section links to no symbol table.</summary>
public sealed record ElfRelocation(
    ulong Offset,
    uint Type,
    uint SymbolIndex,
    long Addend,
    ElfSymbol? Symbol,
    string SectionName);
