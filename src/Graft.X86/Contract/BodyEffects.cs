namespace Graft.X86.Contract;

/// <summary>
/// What one contiguous body of code (a function, or a part of one such as <c>foo.cold</c>) does that its callers can
/// see, read from its instructions alone: what follows calls and jumps out of it is the caller of
/// <see cref="BodyAnalyzer"/>'s to find.
/// </summary>
/// <param name="Written">Caller-saved registers some instruction of the body writes.</param>
/// <param name="Calls">Targets of its direct calls.</param>
/// <param name="Exits">Targets of its direct jumps that leave the body: tail calls, and jumps into its other parts.</param>
/// <param name="Unfollowable">Why control may leave it for code no analysis can name (an indirect call or tail call),
/// or why its bytes could not be read whole; null when neither happens.</param>
/// <param name="AlignedStackAccess">An instruction needs rsp 16-byte aligned (an aligned SSE access on the stack).</param>
/// <param name="StackReferences">Every operand addressed from rsp or rbp, for finding stack-passed arguments.</param>
/// <param name="WritesMemory">Some instruction writes memory that is not addressed from rsp or rbp: a side effect
/// callers can see.</param>
public sealed record BodyEffects(
    RegisterSet Written,
    IReadOnlyList<ulong> Calls,
    IReadOnlyList<ulong> Exits,
    string? Unfollowable,
    bool AlignedStackAccess,
    IReadOnlyList<StackReference> StackReferences,
    bool WritesMemory);

/// <summary>
/// An operand at <c>[rsp + Displacement]</c> (or rbp) of the instruction at <paramref name="Address"/>; an <c>lea</c>
/// only takes the address (<paramref name="TakesAddress"/>).
/// </summary>
public sealed record StackReference(ulong Address, bool FromFramePointer, long Displacement, int Size, bool TakesAddress);
