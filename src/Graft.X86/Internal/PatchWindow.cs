using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>The whole instructions from the patch point that the 5-byte jump overwrites.</summary>
internal sealed class PatchWindow
{
    private PatchWindow(int startOffset, int length, IReadOnlyList<Instruction> instructions)
    {
        StartOffset = startOffset;
        Length = length;
        Instructions = instructions;
    }

    public int StartOffset { get; }

    public int Length { get; }

    public int EndOffset => StartOffset + Length;

    public IReadOnlyList<Instruction> Instructions { get; }

    /// <summary>"the 5 bytes to be rewritten (+0x0..+0x5)", for messages.</summary>
    public string Description =>
        $"the {Length} bytes to be rewritten ({InstructionText.Offset(StartOffset)}..{InstructionText.Offset(EndOffset)})";

    public bool ContainsStrictlyInside(DecodedFunction function, ulong address)
    {
        ulong start = function.Address + (ulong)StartOffset;
        return address > start && address < start + (ulong)Length;
    }

    /// <summary>Null when the decoded instructions do not reach past the jump's last byte.</summary>
    public static PatchWindow? Find(DecodedFunction function, int patchOffset)
    {
        var instructions = new List<Instruction>();
        int covered = 0;
        foreach (Instruction instruction in function.Instructions)
        {
            int offset = function.Offset(instruction.IP);
            if (offset < patchOffset)
            {
                continue;
            }

            instructions.Add(instruction);
            covered += instruction.Length;
            if (covered >= JumpCode.JmpRel32Length)
            {
                return new PatchWindow(patchOffset, covered, instructions);
            }
        }

        return null;
    }
}
