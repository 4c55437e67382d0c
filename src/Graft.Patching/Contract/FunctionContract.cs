using Graft.X86.Contract;

namespace Graft.Patching.Contract;

/// <summary>
/// What the callers of a function may rely on beyond the ABI, as gcc -O2 lets them (-fipa-ra, -fipa-stack-alignment):
/// every caller-saved register outside <see cref="Clobbers"/> keeps its value across a call, and the stack need not be
/// aligned unless <see cref="NeedsAlignedStack"/>.
/// </summary>
/// <param name="Clobbers">What the function, or anything it reaches, may change; every caller-saved register when it
/// reaches code the analysis cannot follow.</param>
/// <param name="Unfollowed">The first such code, said in words, or null.</param>
/// <param name="SideEffects">It writes memory off its stack or calls anything: false means gcc may have found it pure
/// (or const) and folded, merged or hoisted its calls.</param>
internal sealed record FunctionContract(RegisterSet Clobbers, bool NeedsAlignedStack, string? Unfollowed, bool SideEffects)
{
    /// <summary>All it reaches is known code, none of which can raise an exception: gcc may have found it nothrow.</summary>
    public bool CannotThrow => Unfollowed is null;
}
