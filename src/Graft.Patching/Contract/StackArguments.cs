using Graft.Elf;
using Graft.Elf.Dwarf;
using Graft.X86.Contract;

namespace Graft.Patching.Contract;

/// <summary>
/// How many bytes of stack-passed arguments a replacement reads, found with its CFI: an operand addressed from rsp or
/// the frame pointer at or above the CFA (where the caller's stack starts, just past the return address) is an argument.
/// graft_preserve copies that many bytes to where the replacement will look for them.
/// </summary>
internal static class StackArguments
{
    private const int DwarfRbp = 6;
    private const int DwarfRsp = 7;
    private const int MaxBytes = 4096;

    /// <summary>The byte count, rounded up to 8; throws a refusal naming <paramref name="name"/> when it cannot be known.</summary>
    public static int Of(ElfFile elf, BodyEffects body, ulong start, string name)
    {
        FrameDescription fde = elf.EhFrame?.Find(start)
            ?? throw Refuse(name, "has no unwind information, so the stack-passed arguments it reads cannot be found");
        long bytes = 0;
        foreach (StackReference reference in body.StackReferences)
        {
            if (!fde.Contains(reference.Address)
                || fde.ComputeRow(reference.Address).Cfa is not CfaRule.RegisterOffset(int register, long offset)
                || register != (reference.FromFramePointer ? DwarfRbp : DwarfRsp))
            {
                continue;
            }

            long fromCfa = reference.Displacement - offset;
            if (fromCfa < 0)
            {
                continue;
            }

            if (reference.TakesAddress)
            {
                throw Refuse(name, $"takes the address of its stack-passed arguments at 0x{reference.Address:x} (varargs?), so how many there are cannot be known");
            }

            bytes = Math.Max(bytes, fromCfa + reference.Size);
        }

        return bytes <= MaxBytes
            ? (int)((bytes + 7) & ~7L)
            : throw Refuse(name, $"reads {bytes} bytes of stack-passed arguments, more than the {MaxBytes} graft copies");
    }

    private static GraftException Refuse(string name, string why) =>
        new(GraftFailure.Refused, $"cannot patch '{name}': its replacement needs graft's register-preserving entry and {why}");
}
