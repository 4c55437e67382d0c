using System.Buffers.Binary;

namespace Graft.X86.Contract;

/// <summary>
/// Builds the stub at <see cref="SlotLayout.PreserveOffset"/> through which calls reach a replacement that may change
/// more than its original: <c>call [rip+2]</c> into graft.h's <c>graft_preserve</c>, which finds its descriptor 10 bytes
/// past the address that call pushes (see graft.h for the descriptor's layout and what the entry does with it).
/// </summary>
public static class PreservingEntry
{
    private const int ThunkWordOffset = 8;
    private const int DescriptorOffset = 16;

    // call qword ptr [rip+2]: through the word at +8; int3 padding up to it.
    private static ReadOnlySpan<byte> CallThroughThunkWord => [0xFF, 0x15, 0x02, 0x00, 0x00, 0x00, 0xCC, 0xCC];

    private const ulong PassVectorReturnFlag = 1;

    /// <summary>The <see cref="SlotLayout.PreserveCapacity"/> bytes of the stub; they work at any address.</summary>
    /// <param name="thunk">graft_preserve in the loaded patch.</param>
    public static byte[] Build(ulong thunk, PreservePlan plan, XSaveComponents vectors)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(vectors);
        byte[] stub = new byte[SlotLayout.PreserveCapacity];
        CallThroughThunkWord.CopyTo(stub);
        bool saveVectors = plan.SaveVectors && vectors.Mask != 0;
        ulong flags = (plan.PassVectorReturn ? PassVectorReturnFlag : 0) | vectors.WidthFlag;
        ulong[] words =
        [
            thunk,
            plan.Replacement,
            plan.Restore.GeneralBits,
            saveVectors ? vectors.Mask : 0,
            saveVectors ? (ulong)vectors.AreaSize : 0,
            (ulong)plan.StackArgumentBytes,
            flags,
        ];
        for (int index = 0; index < words.Length; index++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(stub.AsSpan(ThunkWordOffset + (index * 8)), words[index]);
        }

        return stub;
    }

    /// <summary>The descriptor's offset from the stub: what graft_preserve computes from the address the call pushes.</summary>
    public static int DescriptorStart => DescriptorOffset;
}

/// <summary>
/// What graft_preserve does for one replacement: the general registers it puts back after the call (those the original
/// leaves alone), whether it saves and restores the vector and mask registers, how many bytes of stack-passed arguments
/// it copies, and whether xmm0/xmm1 carry the replacement's results back (the original may change them).
/// </summary>
public sealed record PreservePlan(ulong Replacement, RegisterSet Restore, bool SaveVectors, int StackArgumentBytes, bool PassVectorReturn);
