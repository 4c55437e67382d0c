using static Graft.Elf.ElfRelocationType;

namespace Graft.Patching.Building.FromDiff;

/// <summary>What the x86-64 relocation types of compiled code mean to a patch built from it.</summary>
internal static class RelocationKinds
{
    public static bool IsPcRelative(uint type) =>
        type is R_X86_64_PC32 or R_X86_64_PLT32 or R_X86_64_GOTPCREL or R_X86_64_GOTPCRELX or R_X86_64_REX_GOTPCRELX or R_X86_64_PC64;

    /// <summary>Loads of a GOT slot, which the linker may turn into a lea of the symbol (so two bytes before the field may change too).</summary>
    public static bool IsGotLoad(uint type) => type is R_X86_64_GOTPCREL or R_X86_64_GOTPCRELX or R_X86_64_REX_GOTPCRELX;

    public static bool IsThreadLocal(uint type) =>
        type is R_X86_64_TLSGD or R_X86_64_TLSLD or R_X86_64_DTPOFF32 or R_X86_64_GOTTPOFF or R_X86_64_TPOFF32 or R_X86_64_DTPOFF64 or R_X86_64_TPOFF64;

    /// <summary>How many bytes the relocation writes.</summary>
    public static int FieldSize(uint type) => type is R_X86_64_64 or R_X86_64_PC64 or R_X86_64_DTPOFF64 or R_X86_64_TPOFF64 ? 8 : 4;
}
