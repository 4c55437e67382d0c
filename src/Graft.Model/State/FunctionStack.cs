namespace Graft.Model.State;

/// <summary>
/// The kernel's func_stack, read from the record: the patches on one function, in the order
/// they were applied. Reverts follow the stack: a patch can be reverted only while no later
/// patch is stacked on any of its functions, so that what lies below a patch never changes
/// while it is applied.
/// </summary>
public static class FunctionStack
{
    /// <summary>The function of the newest patch before <paramref name="patch"/> that replaces the one at <paramref name="address"/>.</summary>
    public static PatchedFunction? Below(TargetState state, AppliedPatch patch, ulong address)
    {
        PatchedFunction? below = null;
        foreach (var applied in state.Patches.TakeWhile(p => p != patch))
        {
            below = applied.Functions.FirstOrDefault(f => f.Address == address) ?? below;
        }

        return below;
    }

    /// <summary>The patch owning <see cref="Below"/>.</summary>
    public static AppliedPatch? PatchBelow(TargetState state, AppliedPatch patch, ulong address) =>
        state.Patches.TakeWhile(p => p != patch).LastOrDefault(p => p.Functions.Any(f => f.Address == address));

    /// <summary>The first patch found stacked on top of one of <paramref name="patch"/>'s functions, and that function.</summary>
    public static (AppliedPatch Patch, PatchedFunction Function)? Above(TargetState state, AppliedPatch patch)
    {
        foreach (var later in state.Patches.SkipWhile(p => p != patch).Skip(1))
        {
            if (later.Functions.FirstOrDefault(f => patch.Functions.Any(mine => mine.Address == f.Address)) is { } function)
            {
                return (later, function);
            }
        }

        return null;
    }

    /// <summary>The lowest patch's record of the function: its original bytes are the program's own.</summary>
    public static PatchedFunction? Bottom(TargetState state, ulong address) =>
        state.Patches.SelectMany(p => p.Functions).FirstOrDefault(f => f.Address == address);
}
