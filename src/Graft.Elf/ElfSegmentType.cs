namespace Graft.Elf;

/// <summary>p_type values of program headers.</summary>
public static class ElfSegmentType
{
    public const uint Null = 0;
    public const uint Load = 1;
    public const uint Dynamic = 2;
    public const uint Interp = 3;
    public const uint Note = 4;
    public const uint Phdr = 6;
    public const uint Tls = 7;
    public const uint GnuEhFrame = 0x6474e550;
    public const uint GnuStack = 0x6474e551;
    public const uint GnuRelro = 0x6474e552;
    public const uint GnuProperty = 0x6474e553;
}
