using System.Buffers.Binary;

namespace Graft.X86.Contract;

/// <summary>
/// Builds the stub at <see cref="SlotLayout.PreserveOffset"/> through which calls reach a replacement that may change
/// more than its original: it pushes the address of its descriptor over the caller's return address and jumps to
/// graft.h's <c>graft_preserve</c> (see graft.h for the descriptor and what the entry does with it). A push and a jump
/// rather than a call keep the processor's return stack balanced: graft_preserve's own return goes where the caller's
/// call said.
/// </summary>
public static class PreservingEntry
{
    /// <summary>Where the jump starts: a thread stopped here has pushed the descriptor's address and nothing else.</summary>
    public const int JumpOffset = 6;

    private const int DescriptorPointerOffset = 0x10;
    private const int ThunkWordOffset = 0x18;
    private const int DescriptorOffset = 0x20;

    // push qword ptr [rip+0xa] (the word at +0x10); jmp qword ptr [rip+0xc] (the word at +0x18); int3 padding.
    private static ReadOnlySpan<byte> PushAndJump => [0xFF, 0x35, 0x0A, 0x00, 0x00, 0x00, 0xFF, 0x25, 0x0C, 0x00, 0x00, 0x00, 0xCC, 0xCC, 0xCC, 0xCC];

    private const ulong PassVectorReturnFlag = 1;

    /// <summary>The <see cref="SlotLayout.PreserveCapacity"/> bytes of the stub at <paramref name="stubAddress"/>.</summary>
    /// <param name="thunk">graft_preserve in the loaded patch.</param>
    public static byte[] Build(ulong stubAddress, ulong thunk, PreservePlan plan, XSaveComponents vectors)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(vectors);
        if (plan.StackArgumentBytes is < 0 or > ushort.MaxValue || plan.StackArgumentBytes % 8 != 0)
        {
            throw new ArgumentException($"{plan.StackArgumentBytes} bytes of stack arguments cannot be described", nameof(plan));
        }

        byte[] stub = new byte[SlotLayout.PreserveCapacity];
        PushAndJump.CopyTo(stub);
        bool saveVectors = plan.SaveVectors && vectors.Mask != 0;
        ulong flags = (plan.PassVectorReturn ? PassVectorReturnFlag : 0) | vectors.WidthFlag;
        ulong packed = (plan.Restore.GeneralBits & 0xFFFF) | (flags << 16) | ((ulong)plan.StackArgumentBytes << 32);
        ulong[] words =
        [
            stubAddress + DescriptorOffset,
            thunk,
            plan.Replacement,
            saveVectors ? vectors.Mask : 0,
            saveVectors ? (ulong)vectors.AreaSize : 0,
            packed,
        ];
        for (int index = 0; index < words.Length; index++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(stub.AsSpan(DescriptorPointerOffset + (index * 8)), words[index]);
        }

        return stub;
    }
}

/// <summary>
/// What graft_preserve does for one replacement: the general registers it puts back after the call (those the original
/// leaves alone), whether it saves and restores the vector and mask registers, how many bytes of stack-passed arguments
/// it copies, and whether xmm0/xmm1 carry the replacement's results back (the original may change them).
/// </summary>
public sealed record PreservePlan(ulong Replacement, RegisterSet Restore, bool SaveVectors, int StackArgumentBytes, bool PassVectorReturn);
