using Graft.Elf;
using Iced.Intel;

namespace Graft.Patching.Loading;

/// <summary>
/// Where an object calls gcc's -pg hooks (<c>__fentry__</c>, <c>mcount</c>): the GOT slots the dynamic linker fills
/// with them, and the PLT entries that jump through those slots. A function built with -pg starts with such a call,
/// which graft leaves out of the relocated copy (the kernel's ftrace patches that very call).
/// </summary>
internal sealed class ProfilingHooks
{
    private static readonly HashSet<string> HookNames = ["__fentry__", "mcount", "_mcount"];

    private readonly ElfFile elf;
    private readonly ulong bias;
    private readonly HashSet<ulong> slots;

    public ProfilingHooks(ElfFile elf, ulong bias)
    {
        this.elf = elf;
        this.bias = bias;
        slots = [.. elf.Relocations
            .Where(r => r.Type is ElfRelocationType.R_X86_64_GLOB_DAT or ElfRelocationType.R_X86_64_JUMP_SLOT
                && r.Symbol is { } symbol && HookNames.Contains(symbol.Name))
            .Select(r => r.Offset + bias)];
    }

    /// <summary>A call through this address (a GOT slot), or to it (a PLT entry), calls a -pg hook.</summary>
    public bool IsHook(ulong address) => slots.Count > 0 && (slots.Contains(address) || JumpsThroughSlot(address));

    // A PLT entry: endbr64 and bnd prefixes aside, jmp qword ptr [rip+slot].
    private bool JumpsThroughSlot(ulong entry)
    {
        var code = new byte[16];
        if (entry < bias || !elf.TryReadAtAddress(entry - bias, code))
        {
            return false;
        }

        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code), entry);
        for (var count = 0; count < 2; count++)
        {
            decoder.Decode(out var instruction);
            if (instruction.Mnemonic == Mnemonic.Endbr64)
            {
                continue;
            }

            return instruction.Mnemonic == Mnemonic.Jmp && instruction.IsIPRelativeMemoryOperand
                && slots.Contains(instruction.IPRelativeMemoryAddress);
        }

        return false;
    }
}
