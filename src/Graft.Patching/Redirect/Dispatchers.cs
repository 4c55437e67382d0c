using Graft.Model.State;
using Graft.Patching.Target;
using Graft.X86;

namespace Graft.Patching.Redirect;

/// <summary>
/// The slots' dispatchers, which pick old or new code per thread while a transition is in
/// flight (<see cref="DispatcherCode"/>).
/// </summary>
internal static class Dispatchers
{
    /// <summary>
    /// Points the dispatcher of each of <paramref name="functions"/> (all of the patch's when
    /// null) at the code below the patch and at its new code. Done as a transition starts, or
    /// as a library comes during one, while no entry jumps to the dispatcher yet (a completed
    /// transition was synchronized out of them), because what lies below can change between
    /// two transitions: a cumulative patch removes the patches it was stacked on.
    /// </summary>
    public static void Write(TargetProcess target, TargetState state, AppliedPatch patch, ulong tableAddress, IEnumerable<PatchedFunction>? functions = null)
    {
        foreach (var function in functions ?? patch.Functions)
        {
            var oldCode = Redirects.OldCode(function, FunctionStack.Below(state, patch, function.Address));
            target.Memory.Write(Redirects.Dispatcher(function),
                DispatcherCode.Build(Redirects.Dispatcher(function), tableAddress, oldCode, Redirects.NewEntry(function)));
        }
    }
}
