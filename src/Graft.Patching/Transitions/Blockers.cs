using Graft.Linux.Unwinding;
using Graft.Model.State;
using Graft.Patching.Redirect;

namespace Graft.Patching.Transitions;

/// <summary>
/// What keeps a thread from switching (the kernel's klp_check_stack_func): when patching, the
/// code each function has until then (the function below on its stack, and the original);
/// when unpatching, the patch's own code (for a nop, the original it brought back). A part of a
/// function placed apart from it (foo.cold) is that function. A thread passing through any graft
/// slot waits too.
/// </summary>
internal static class Blockers
{
    public static Func<ThreadStack, string?> For(TargetState state, AppliedPatch patch, Universe goal)
    {
        var ranges = Code(state, patch, goal);
        var pages = state.SlotPages;
        var entries = patch.Functions.Select(f => f.PatchAddress).ToHashSet();
        return stack =>
        {
            foreach (var frame in stack.Frames)
            {
                // Stopped on a function's entry jump (or put back there, see EntryRewind), a thread has not entered it:
                // it goes through the dispatcher, and so to its universe, when it resumes.
                if (frame == stack.Frames[0] && entries.Contains(frame.Pc))
                {
                    continue;
                }

                if (ranges.FirstOrDefault(r => frame.CallSite >= r.Start && frame.CallSite < r.End) is { } range)
                {
                    return $"is running {range.What} ({frame})";
                }

                if (Redirects.InSlotPages(pages, frame.Pc))
                {
                    return $"is passing through a graft slot at 0x{frame.Pc:x}";
                }
            }

            return null;
        };
    }

    /// <summary>
    /// What the dispatchers' self-switch looks for on a thread's stack (<see cref="X86.ThreadTableLayout.EncodeRanges"/>):
    /// the same code, as return addresses see it (a call at the last byte of a range returns just past its end), and
    /// every slot page. A word on the stack is not known to be a return address, so this keeps threads back more often
    /// than <see cref="For"/> does, never less.
    /// </summary>
    public static IEnumerable<(ulong Start, ulong End)> ForSelfSwitch(TargetState state, AppliedPatch patch, Universe goal) =>
    [
        .. Code(state, patch, goal).Select(r => (r.Start, r.End + 1)),
        .. state.SlotPages.Select(p => (p.Address, p.Address + p.Size)),
    ];

    private static List<CodeRange> Code(TargetState state, AppliedPatch patch, Universe goal) =>
        goal == Universe.New ? OldCode(state, patch) : NewCode(patch);

    private static List<CodeRange> OldCode(TargetState state, AppliedPatch patch)
    {
        var ranges = new List<CodeRange>();
        foreach (var function in patch.Functions)
        {
            ranges.Add(new(function.Address, function.Address + function.Size, function.Name));
            ranges.AddRange(PartsOf(function));
            if (FunctionStack.PatchBelow(state, patch, function.Address) is { } lower)
            {
                var below = lower.Functions.First(f => f.Address == function.Address);
                // A replacement reached through graft_preserve also runs that entry, which lies elsewhere in its patch.
                ranges.Add(below.NewSize > 0 && below.Entry is not { Preserving: true }
                    ? new(below.NewFunction, below.NewFunction + below.NewSize, $"{function.Name} of patch '{lower.Name}'")
                    : new(lower.ImageStart, lower.ImageEnd, $"code of patch '{lower.Name}'"));
            }
        }

        return ranges;
    }

    private static List<CodeRange> NewCode(AppliedPatch patch) =>
    [
        new(patch.ImageStart, patch.ImageEnd, $"code of patch '{patch.Name}'"),
        .. patch.Functions.Where(f => f.IsNop).Select(f => new CodeRange(f.Address, f.Address + f.Size, $"{f.Name}, restored by patch '{patch.Name}'")),
        .. patch.Functions.Where(f => f.IsNop).SelectMany(PartsOf),
    ];

    private static IEnumerable<CodeRange> PartsOf(PatchedFunction function) =>
        function.Parts.Select(p => new CodeRange(p.Start, p.End, $"{function.Name} ({p.Name})"));

    private sealed record CodeRange(ulong Start, ulong End, string What);
}
