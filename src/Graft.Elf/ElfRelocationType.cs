namespace Graft.Elf;

/// <summary>x86-64 relocation types, under their psABI names so they read like the documents and readelf.</summary>
public static class ElfRelocationType
{
    public const uint R_X86_64_NONE = 0;
    public const uint R_X86_64_64 = 1;
    public const uint R_X86_64_PC32 = 2;
    public const uint R_X86_64_GOT32 = 3;
    public const uint R_X86_64_PLT32 = 4;
    public const uint R_X86_64_COPY = 5;
    public const uint R_X86_64_GLOB_DAT = 6;
    public const uint R_X86_64_JUMP_SLOT = 7;
    public const uint R_X86_64_RELATIVE = 8;
    public const uint R_X86_64_GOTPCREL = 9;
    public const uint R_X86_64_32 = 10;
    public const uint R_X86_64_32S = 11;
    public const uint R_X86_64_DTPMOD64 = 16;
    public const uint R_X86_64_DTPOFF64 = 17;
    public const uint R_X86_64_TPOFF64 = 18;
    public const uint R_X86_64_TLSGD = 19;
    public const uint R_X86_64_TLSLD = 20;
    public const uint R_X86_64_DTPOFF32 = 21;
    public const uint R_X86_64_GOTTPOFF = 22;
    public const uint R_X86_64_TPOFF32 = 23;
    public const uint R_X86_64_PC64 = 24;
    public const uint R_X86_64_IRELATIVE = 37;
    public const uint R_X86_64_GOTPCRELX = 41;
    public const uint R_X86_64_REX_GOTPCRELX = 42;
}
