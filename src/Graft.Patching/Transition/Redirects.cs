using Graft.Core.State;
using Graft.X86;

namespace Graft.Patching.Transition;

/// <summary>
/// Where a redirected function's entry jumps in each phase: to the slot's dispatcher while a
/// transition is in flight, straight to the replacement (or through the slot's pointer when it
/// is out of rel32 reach) once every thread has switched, and back to its own bytes at the end.
/// </summary>
internal static class Redirects
{
    public static ulong Dispatcher(PatchedFunction function) => function.Slot + SlotLayout.DispatcherOffset;

    /// <summary>The relocated copy of the bytes the jump covers, followed by a jump back: the old code's way in.</summary>
    public static ulong OriginalCode(PatchedFunction function) => function.Slot + SlotLayout.OriginalCodeOffset;

    public static ulong Direct(PatchedFunction function) =>
        JumpCode.IsWithinRel32(function.PatchAddress, function.NewFunction) ? function.NewFunction : function.Slot;

    public static byte[] Original(PatchedFunction function) =>
        Convert.FromHexString(function.OriginalBytes)[..JumpCode.JmpRel32Length];

    /// <summary>The entry's bytes once the patch is, or is not, in force.</summary>
    public static byte[] Final(PatchedFunction function, bool patched) =>
        patched ? JumpCode.EncodeJmpRel32(function.PatchAddress, Direct(function)) : Original(function);

    public static CodeEdit ToDispatcher(PatchedFunction function, IReadOnlyDictionary<ulong, ulong>? movedInstructions = null) =>
        new(function.PatchAddress, JumpCode.EncodeJmpRel32(function.PatchAddress, Dispatcher(function)), Dispatcher(function), movedInstructions);

    public static CodeEdit ToDirect(PatchedFunction function) =>
        new(function.PatchAddress, Final(function, patched: true), Direct(function));

    public static CodeEdit ToOriginal(PatchedFunction function) =>
        new(function.PatchAddress, Original(function), OriginalCode(function));

    public static bool InSlotPages(IEnumerable<SlotPage> pages, ulong address) =>
        pages.Any(p => address >= p.Address && address < p.Address + p.Size);
}
