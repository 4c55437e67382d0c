namespace Graft.X86;

/// <summary>
/// The per-function slot: a fixed 64-byte record in a slot page that Graft maps within ±2 GB of the code.
/// </summary>
public static class SlotLayout
{
    public const int Size = 64;

    /// <summary>Aligned 8-byte pointer the slot jumps through, so retargeting is a data write.</summary>
    public const int TargetPointerOffset = 8;

    /// <summary>Relocated displaced instructions followed by a jump back into the function.</summary>
    public const int OriginalCodeOffset = 16;

    public const int OriginalCodeCapacity = Size - OriginalCodeOffset;
}
