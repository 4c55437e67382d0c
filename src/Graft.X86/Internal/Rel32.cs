namespace Graft.X86.Internal;

/// <summary>Signed 32-bit displacement arithmetic, done in 128 bits so that no address wraps.</summary>
internal static class Rel32
{
    public const int MaxInstructionLength = 15;

    public static Int128 Displacement(Int128 nextInstruction, ulong target)
    {
        return target - nextInstruction;
    }

    public static bool Fits(Int128 displacement)
    {
        return displacement >= int.MinValue && displacement <= int.MaxValue;
    }
}
