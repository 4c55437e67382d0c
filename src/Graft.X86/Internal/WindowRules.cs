using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>Rules for the instructions that are moved out of the function into the slot.</summary>
internal static class WindowRules
{
    /// <param name="isProfilingCall">A -pg profiling call, which is left out of the copy rather than moved.</param>
    public static Verdict? Check(DecodedFunction function, PatchWindow window, Func<Instruction, bool> isProfilingCall)
    {
        for (int index = 0; index < window.Instructions.Count; index++)
        {
            Instruction instruction = window.Instructions[index];
            if (instruction.Mnemonic == Mnemonic.Call && isProfilingCall(instruction))
            {
                continue;
            }

            if (instruction.Mnemonic == Mnemonic.Call)
            {
                return new Verdict(
                    PrologueRefusal.CallInWindow,
                    $"{InstructionText.At(function, instruction)} is a call inside {window.Description}; moved to the slot, it would push a return address into the slot page");
            }

            if (instruction.Mnemonic is Mnemonic.Int3 or Mnemonic.Int1)
            {
                return new Verdict(
                    PrologueRefusal.UnsupportedInstructionInWindow,
                    $"{InstructionText.At(function, instruction)} is a breakpoint inside {window.Description}, set by a debugger or a half-written patch; the original bytes are unknown");
            }

            if (index > 0 && EndsFlow(window.Instructions[index - 1]))
            {
                return new Verdict(
                    PrologueRefusal.UnsupportedInstructionInWindow,
                    $"{InstructionText.At(function, instruction)} follows {InstructionText.Format(window.Instructions[index - 1])} inside {window.Description}; "
                    + "it can only be reached by a jump from elsewhere, which would land in the middle of the new jump");
            }

            // Reach from the slot's address is checked when the slot is built; this catches what Iced cannot re-encode at all.
            if (!Relocator.TryRelocate([instruction], instruction.IP, out _, out _, out string error))
            {
                return new Verdict(
                    PrologueRefusal.UnsupportedInstructionInWindow,
                    $"{InstructionText.At(function, instruction)} inside {window.Description} cannot be re-encoded: {error}");
            }
        }

        return null;
    }

    private static bool EndsFlow(in Instruction instruction)
    {
        return instruction.FlowControl is FlowControl.Return or FlowControl.UnconditionalBranch
            or FlowControl.IndirectBranch or FlowControl.Exception;
    }
}
