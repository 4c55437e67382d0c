namespace Graft.X86.References;

/// <summary>
/// The instruction that holds a relocated field of compiled code: where it starts, how long it is,
/// whether the field is the rel32 of a direct call or jump, and <see cref="FieldToEnd"/>, how far
/// the instruction's end lies past the field (what a PC-relative reference adds to its addend).
/// </summary>
public sealed record ReferenceSite(int Start, int Length, bool IsDirectBranch, bool IsRipRelativeDisplacement, int FieldToEnd);
