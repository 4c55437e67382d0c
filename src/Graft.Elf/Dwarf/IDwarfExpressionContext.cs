namespace Graft.Elf.Dwarf;

/// <summary>What a DWARF expression may read. Register numbers are x86-64 DWARF numbers: 0 rax, 1 rdx,
/// 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8..15 r8..r15, 16 the return address (rip).</summary>
public interface IDwarfExpressionContext
{
    ulong ReadRegister(int dwarfRegister);

    /// <summary>Reads 8 bytes at <paramref name="address"/>; DW_OP_deref_size keeps only the low bytes it needs.</summary>
    ulong ReadMemory(ulong address);
}
