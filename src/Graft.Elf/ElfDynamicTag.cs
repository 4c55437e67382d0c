namespace Graft.Elf;

/// <summary>d_tag values of dynamic entries.</summary>
public static class ElfDynamicTag
{
    public const long Null = 0;
    public const long Needed = 1;
    public const long PltRelSize = 2;
    public const long PltGot = 3;
    public const long Hash = 4;
    public const long StrTab = 5;
    public const long SymTab = 6;
    public const long Rela = 7;
    public const long RelaSize = 8;
    public const long StrSize = 10;
    public const long Init = 12;
    public const long Fini = 13;
    public const long Soname = 14;
    public const long Debug = 21;
    public const long JmpRel = 23;
    public const long BindNow = 24;
    public const long Flags = 30;
    public const long GnuHash = 0x6ffffef5;
    public const long Flags1 = 0x6ffffffb;
}
