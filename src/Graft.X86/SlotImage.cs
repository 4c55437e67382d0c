namespace Graft.X86;

/// <summary>The 64-byte head of one slot, and how its copied code maps back to the function it came from.</summary>
public sealed class SlotImage
{
    private readonly ulong _copyEnd;

    internal SlotImage(byte[] bytes, ulong originalCodeAddress, IReadOnlyList<(ulong CopyAddress, ulong OriginalAddress)> instructionMap, ulong copyEnd)
    {
        Bytes = bytes;
        OriginalCodeAddress = originalCodeAddress;
        InstructionMap = instructionMap;
        _copyEnd = copyEnd;
    }

    /// <summary>Exactly <see cref="SlotLayout.HeadSize"/> bytes, to be written at the slot's start.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>Where "call the original" goes: the relocated window followed by the jump back.</summary>
    public ulong OriginalCodeAddress { get; }

    /// <summary>
    /// Each relocated instruction's address in the copy and the original address it came from, in address order.
    /// The last entry is the jump back, which stands for the first instruction after the window.
    /// </summary>
    public IReadOnlyList<(ulong CopyAddress, ulong OriginalAddress)> InstructionMap { get; }

    /// <summary>
    /// The original address of the instruction at or containing <paramref name="addressInCopy"/>,
    /// so that a thread stopped in the copy can be treated as if it were in the function; null outside the copy.
    /// </summary>
    public ulong? MapToOriginal(ulong addressInCopy)
    {
        if (addressInCopy < OriginalCodeAddress || addressInCopy >= _copyEnd)
        {
            return null;
        }

        ulong? original = null;
        foreach ((ulong copyAddress, ulong originalAddress) in InstructionMap)
        {
            if (copyAddress > addressInCopy)
            {
                break;
            }

            original = originalAddress;
        }

        return original;
    }
}
