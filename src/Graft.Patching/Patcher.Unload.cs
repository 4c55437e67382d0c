using Graft.Model.State;
using Graft.Patching.Target;

namespace Graft.Patching;

public sealed partial class Patcher
{
    /// <summary>
    /// Unloads the images of a reverted (or replaced) patch that stay loaded after it (graft
    /// unload): what the program still points to in them (a string one of its functions
    /// returned, a callback it registered, its static data) is unmapped, and a later use of
    /// such a pointer faults. Hence an act of its own, which the operator asks for knowing
    /// that. A patch forced earlier stays loaded for good: threads may still run its code.
    /// Returns how many images were unloaded.
    /// </summary>
    public int Unload(int pid, string patchName)
    {
        return OnTarget(pid, target =>
        {
            RefuseIfStopped(target);
            SeccompCheck.Run(target);
            var store = new StateStore(target.Modules, target.Tracee.Memory, pid);
            var state = CleanUpInterrupted(target, store, store.Read());
            var images = state.Disabled.Where(d => d.Name == patchName).ToList();
            if (images.Count == 0)
            {
                throw new GraftException(GraftFailure.Refused, state.FindPatch(patchName) is null
                    ? $"patch '{patchName}' has no image loaded in process {pid}"
                    : $"patch '{patchName}' is applied to process {pid}; revert it first");
            }

            if (images.FirstOrDefault(i => i.Forced) is not null)
            {
                throw new GraftException(GraftFailure.Refused, $"patch '{patchName}' was forced earlier: threads may still run its code, so it stays loaded");
            }

            Notice($"'{patchName}': unloading {images.Count} image(s); a pointer the program still holds into them now faults");

            // The record first: the dlclose serves library events, whose handlers read it.
            store.Write(StateLayout.Serialize(state with { Disabled = [.. state.Disabled.Except(images)] }));
            Unload(target, store, images, []);
            return images.Count;
        });
    }
}
