using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>Looks through the whole function for anything that leads into the middle of the window.</summary>
internal static class BranchScan
{
    public static Verdict? Check(DecodedFunction function, PatchWindow window)
    {
        foreach (Instruction instruction in function.Instructions)
        {
            if (Branches.DirectTarget(instruction) is ulong target && window.ContainsStrictlyInside(function, target))
            {
                return IntoWindow(function, window, instruction, "branches to", target);
            }

            // A RIP-relative address inside the window (lea of a label there) may feed an indirect jump.
            if (instruction.IsIPRelativeMemoryOperand
                && window.ContainsStrictlyInside(function, instruction.IPRelativeMemoryAddress))
            {
                return IntoWindow(function, window, instruction, "refers to", instruction.IPRelativeMemoryAddress);
            }
        }

        if (function.UndecodableOffset is int offset)
        {
            return new Verdict(
                PrologueRefusal.UndecodableInstruction,
                $"the bytes at {InstructionText.Offset(offset)} do not decode as x86-64 instructions, "
                + $"so a branch from there into {window.Description} cannot be ruled out");
        }

        return null;
    }

    private static Verdict IntoWindow(DecodedFunction function, PatchWindow window, in Instruction instruction, string verb, ulong target)
    {
        return new Verdict(
            PrologueRefusal.BranchIntoWindow,
            $"{InstructionText.At(function, instruction)} {verb} {InstructionText.Offset(function.Offset(target))}, inside {window.Description}");
    }
}
