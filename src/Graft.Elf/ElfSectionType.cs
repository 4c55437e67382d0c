namespace Graft.Elf;

/// <summary>sh_type values of section headers.</summary>
public static class ElfSectionType
{
    public const uint Null = 0;
    public const uint ProgBits = 1;
    public const uint SymTab = 2;
    public const uint StrTab = 3;
    public const uint Rela = 4;
    public const uint Hash = 5;
    public const uint Dynamic = 6;
    public const uint Note = 7;
    public const uint NoBits = 8;
    public const uint Rel = 9;
    public const uint DynSym = 11;
    public const uint Relr = 19;
    public const uint GnuHash = 0x6ffffff6;
    public const uint GnuVerDef = 0x6ffffffd;
    public const uint GnuVerNeed = 0x6ffffffe;
    public const uint GnuVerSym = 0x6fffffff;
}
