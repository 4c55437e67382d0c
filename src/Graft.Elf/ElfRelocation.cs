namespace Graft.Elf;

/// <summary>One Elf64_Rela entry. <see cref="Symbol"/> is resolved in the symbol table the relocation
/// section links to; null for symbol index 0 or when the section links to no symbol table.
/// <see cref="AppliesTo"/> is the index of the section it patches (the relocation section's sh_info; 0 for
/// the dynamic relocations of a linked object), which is what matters in a relocatable object.</summary>
public sealed record ElfRelocation(
    ulong Offset,
    uint Type,
    uint SymbolIndex,
    long Addend,
    ElfSymbol? Symbol,
    string SectionName,
    int AppliesTo);
