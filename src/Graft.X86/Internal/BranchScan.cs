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

    /// <summary>A switch whose table sends a case into the middle of the window, or whose table cannot be found.</summary>
    public static Verdict? CheckSwitchTables(DecodedFunction function, PatchWindow window, ulong end, Func<ulong, int, byte[]?> readData)
    {
        (List<ulong> targets, ulong? unfound) = SwitchTables.Targets(function, end, readData);
        if (unfound is ulong dispatch)
        {
            return new Verdict(
                PrologueRefusal.BranchIntoWindow,
                $"the switch at {InstructionText.Offset(function.Offset(dispatch))} jumps through a table graft cannot find, "
                + $"so a case inside {window.Description} cannot be ruled out");
        }

        return targets.FirstOrDefault(t => window.ContainsStrictlyInside(function, t)) is var target && target != 0
            ? new Verdict(
                PrologueRefusal.BranchIntoWindow,
                $"a case of a switch's jump table goes to {InstructionText.Offset(function.Offset(target))}, inside {window.Description}")
            : null;
    }

    private static Verdict IntoWindow(DecodedFunction function, PatchWindow window, in Instruction instruction, string verb, ulong target)
    {
        return new Verdict(
            PrologueRefusal.BranchIntoWindow,
            $"{InstructionText.At(function, instruction)} {verb} {InstructionText.Offset(function.Offset(target))}, inside {window.Description}");
    }
}
