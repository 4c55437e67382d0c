using Graft.Model.State;
using Graft.X86;

namespace Graft.Patching.Redirect;

/// <summary>
/// Where a redirected function's entry jumps in each phase: to the slot's dispatcher while a
/// transition is in flight, straight to the replacement (or through the slot's pointer when it
/// is out of rel32 reach) once every thread has switched, and at the end back to what lies
/// below it on the function's stack: the patch below's replacement, or its own bytes.
/// </summary>
internal static class Redirects
{
    public static ulong Dispatcher(PatchedFunction function) => function.Slot + SlotLayout.DispatcherOffset;

    /// <summary>The slot's relocated copy of the instructions the entry jump covers, followed by a jump back: the original's way in.</summary>
    public static ulong OriginalCopy(PatchedFunction function) => function.Slot + SlotLayout.OriginalCodeOffset;

    /// <summary>
    /// Where calls of the new version go: the replacement, or the slot's stub into graft.h's register-preserving entry
    /// when the replacement may change what the original leaves alone (<see cref="EntryPath"/>).
    /// </summary>
    public static ulong NewEntry(PatchedFunction function) =>
        function.Entry is { Preserving: true } ? function.Slot + SlotLayout.PreserveOffset : function.NewFunction;

    public static ulong Direct(PatchedFunction function) =>
        JumpCode.IsWithinRel32(function.PatchAddress, NewEntry(function)) ? NewEntry(function) : function.Slot;

    /// <summary>The entry's own bytes, before any patch, as many as the entry jump covers.</summary>
    public static byte[] OriginalEntry(PatchedFunction function) =>
        Convert.FromHexString(function.OriginalBytes)[..JumpCode.JmpRel32Length];

    /// <summary>The entry's bytes once the patch is in force: a nop's are the original ones.</summary>
    public static byte[] PatchedEntry(PatchedFunction function) =>
        function.IsNop ? OriginalEntry(function) : JumpCode.EncodeJmpRel32(function.PatchAddress, Direct(function));

    /// <summary>The entry's bytes once the patch is gone: a jump to the function below, or the original bytes.</summary>
    public static byte[] RestoredEntry(PatchedFunction function, PatchedFunction? below) =>
        below is null ? OriginalEntry(function) : JumpCode.EncodeJmpRel32(function.PatchAddress, Direct(below));

    /// <summary>Where the dispatcher sends a thread that has not switched: the code below this patch.</summary>
    public static ulong OldCode(PatchedFunction function, PatchedFunction? below) =>
        below is null ? OriginalCopy(function) : NewEntry(below);

    public static CodeEdit ToDispatcher(PatchedFunction function, IReadOnlyDictionary<ulong, ulong>? movedInstructions = null) =>
        new(function.PatchAddress, JumpCode.EncodeJmpRel32(function.PatchAddress, Dispatcher(function)), Dispatcher(function), movedInstructions);

    public static CodeEdit ToPatched(PatchedFunction function) =>
        new(function.PatchAddress, PatchedEntry(function), function.IsNop ? OriginalCopy(function) : Direct(function));

    public static CodeEdit ToRestored(PatchedFunction function, PatchedFunction? below) =>
        new(function.PatchAddress, RestoredEntry(function, below), below is null ? OriginalCopy(function) : Direct(below));

    public static bool InSlotPages(IEnumerable<SlotPage> pages, ulong address) =>
        pages.Any(p => address >= p.Address && address < p.Address + p.Size);
}
