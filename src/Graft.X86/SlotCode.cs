using System.Buffers.Binary;

using Graft.X86.Internal;

using Iced.Intel;

namespace Graft.X86;

/// <summary>Builds the code of a per-function slot.</summary>
public static class SlotCode
{
    // jmp qword ptr [rip+2]: through the pointer at +8, so retargeting is an aligned 8-byte data write.
    private static ReadOnlySpan<byte> JmpThroughTargetPointer => [0xFF, 0x25, 0x02, 0x00, 0x00, 0x00];

    private const byte Int3 = 0xCC;

    /// <summary>
    /// The 64-byte head of a slot at <paramref name="slotAddress"/>: <c>jmp [rip+2]</c>, int3 padding, the target pointer
    /// (set to <paramref name="initialTarget"/>), then the window's instructions relocated to +16 and a jump back.
    /// The slot's remaining bytes, from <see cref="SlotLayout.DispatcherOffset"/>, are not part of the head.
    /// </summary>
    public static SlotImage Build(ulong slotAddress, PrologueAnalysis analysis, ulong initialTarget)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        if (!analysis.IsPatchable)
        {
            throw new ArgumentException($"cannot build a slot for a function that is not patchable: {analysis.Message}", nameof(analysis));
        }

        if (slotAddress % 8 != 0 || slotAddress > ulong.MaxValue - SlotLayout.Size + 1)
        {
            throw new ArgumentException($"a slot needs {SlotLayout.Size} bytes at an 8-byte aligned address; 0x{slotAddress:x} is not one", nameof(slotAddress));
        }

        ulong copyAddress = slotAddress + SlotLayout.OriginalCodeOffset;
        ulong resumeAddress = analysis.PatchAddress + (ulong)analysis.WindowLength;
        CheckReach(slotAddress, analysis, resumeAddress);

        if (!Relocator.TryRelocate(analysis.WindowInstructions, copyAddress, out byte[] copy, out int[] newOffsets, out string error))
        {
            throw new SlotEncodingException(
                $"the instructions at 0x{analysis.PatchAddress:x} cannot be relocated to the slot at 0x{slotAddress:x}: {error}");
        }

        int copyLength = copy.Length + JumpCode.JmpRel32Length;
        if (copyLength > SlotLayout.OriginalCodeCapacity)
        {
            throw new SlotEncodingException(
                $"the relocated instructions from 0x{analysis.PatchAddress:x} and the jump back need {copyLength} bytes; "
                + $"a slot holds {SlotLayout.OriginalCodeCapacity}");
        }

        ulong jumpBackAddress = copyAddress + (ulong)copy.Length;
        byte[] slot = new byte[SlotLayout.HeadSize];
        slot.AsSpan().Fill(Int3);
        JmpThroughTargetPointer.CopyTo(slot);
        BinaryPrimitives.WriteUInt64LittleEndian(slot.AsSpan(SlotLayout.TargetPointerOffset), initialTarget);
        copy.CopyTo(slot, SlotLayout.OriginalCodeOffset);
        JumpCode.EncodeJmpRel32(jumpBackAddress, resumeAddress).CopyTo(slot, SlotLayout.OriginalCodeOffset + copy.Length);

        var map = new List<(ulong CopyAddress, ulong OriginalAddress)>();
        for (int index = 0; index < newOffsets.Length; index++)
        {
            map.Add((copyAddress + (ulong)newOffsets[index], analysis.WindowInstructions[index].IP));
        }

        map.Add((jumpBackAddress, resumeAddress));
        return new SlotImage(slot, copyAddress, map, copyAddress + (ulong)copyLength);
    }

    // Checked before encoding: out of rel32 reach, Iced would silently switch to a longer absolute form.
    private static void CheckReach(ulong slotAddress, PrologueAnalysis analysis, ulong resumeAddress)
    {
        ulong copyStart = slotAddress + SlotLayout.OriginalCodeOffset;
        ulong copyEnd = slotAddress + SlotLayout.HeadSize;
        foreach (Instruction instruction in analysis.WindowInstructions)
        {
            foreach (ulong target in OutsideTargets(instruction, analysis))
            {
                if (!Reaches(copyStart, target) || !Reaches(copyEnd, target))
                {
                    throw new SlotEncodingException(
                        $"the instruction at 0x{instruction.IP:x} ({InstructionText.Format(instruction)}) refers to 0x{target:x}, "
                        + $"out of rel32 reach from the slot at 0x{slotAddress:x}");
                }
            }
        }

        if (!Reaches(copyStart, resumeAddress) || !Reaches(copyEnd, resumeAddress))
        {
            throw new SlotEncodingException(
                $"the slot at 0x{slotAddress:x} is out of rel32 reach of 0x{resumeAddress:x}, where the copied code jumps back");
        }
    }

    private static IEnumerable<ulong> OutsideTargets(Instruction instruction, PrologueAnalysis analysis)
    {
        if (instruction.IsIPRelativeMemoryOperand)
        {
            yield return instruction.IPRelativeMemoryAddress;
        }

        // Branches to an instruction of the window itself are re-targeted inside the copy by the block encoder.
        if (Branches.DirectTarget(instruction) is ulong target && !analysis.WindowInstructions.Any(moved => moved.IP == target))
        {
            yield return target;
        }
    }

    private static bool Reaches(ulong instructionEnd, ulong target)
    {
        return Rel32.Fits(Rel32.Displacement(instructionEnd, target));
    }
}
