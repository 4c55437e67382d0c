namespace Graft.X86;

/// <summary>
/// The per-function slot: a fixed 704-byte record in a slot page that Graft maps within ±2 GB of the code.
/// A 64-byte head (what <see cref="SlotCode"/> builds) is followed by room for a dispatcher (what <see cref="DispatcherCode"/> builds)
/// and by the stub that reaches a replacement through graft.h's register-preserving entry (what
/// <see cref="Contract.PreservingEntry"/> builds), when the replacement needs it.
/// </summary>
public static class SlotLayout
{
    /// <summary>The allocation unit: one slot per patched function.</summary>
    public const int Size = 704;

    /// <summary>The jump through the target pointer, the pointer, and the relocated copy.</summary>
    public const int HeadSize = 64;

    /// <summary>Aligned 8-byte pointer the slot jumps through, so retargeting is a data write.</summary>
    public const int TargetPointerOffset = 8;

    /// <summary>Relocated displaced instructions followed by a jump back into the function.</summary>
    public const int OriginalCodeOffset = 16;

    public const int OriginalCodeCapacity = HeadSize - OriginalCodeOffset;

    /// <summary>Where the per-thread dispatcher goes while a transition is in flight; 8-byte aligned like the slot.</summary>
    public const int DispatcherOffset = HeadSize;

    public const int DispatcherCapacity = 576;

    /// <summary>The preserving stub and its descriptor, 8-byte aligned.</summary>
    public const int PreserveOffset = DispatcherOffset + DispatcherCapacity;

    public const int PreserveCapacity = Size - PreserveOffset;
}
