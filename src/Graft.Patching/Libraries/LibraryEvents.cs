using Graft.Linux.Inspection;
using Graft.Model;
using Graft.Model.State;
using Graft.Patching.Lifecycle;
using Graft.Patching.Loading;
using Graft.Patching.Redirect;
using Graft.Patching.Target;
using Graft.Patching.Transitions;
using Graft.X86;

namespace Graft.Patching.Libraries;

/// <summary>
/// The kernel's klp_module_coming and klp_module_going for shared libraries: every patch
/// applied to the process is applied to a library as it loads, in the order the patches were
/// applied, and reverted from it as it unloads. Both run on the thread that loads or unloads
/// the library, stopped inside the dynamic linker with its lock held, before any code of a
/// coming library has run and before a going library is unmapped.
/// </summary>
internal sealed class LibraryEvents(TargetProcess target, LoaderDebugState debugState, Action<string> notice)
{
    private static readonly TimeSpan CallbackTimeout = TimeSpan.FromSeconds(10);

    /// <summary>klp_module_coming: the patches in order, each one's pre_patch, redirects, then post_patch unless in transition.</summary>
    public void Coming(LoadedModule module, int tid)
    {
        var store = OpenStore();

        // A library dlmopen loads into a namespace of its own, or again beside its copy, is left as it comes. The
        // loading thread waits meanwhile: the watch's _r_debug is used, not looked up again.
        if (PatchResolver.WhyNotInFirstNamespace(target, module, debugState) is { } why)
        {
            foreach (var (patch, obj) in store.ReadCurrent().Patches
                .SelectMany(p => p.Objects.Where(o => o.Name is not null && module.Matches(o.Name)).Select(o => (p.Name, o.DisplayName))))
            {
                notice(Notices.RefusingModule(patch, obj, why));
            }

            return;
        }

        var applied = new List<(string Patch, int Object)>();
        foreach (var name in store.ReadCurrent().Patches.Where(p => p.Phase != PatchPhase.Loading).Select(p => p.Name).ToList())
        {
            var patch = store.ReadCurrent().FindPatch(name)!;
            var index = patch.Objects.ToList().FindIndex(o => !o.IsLoaded && o.Name is not null && module.Matches(o.Name));
            if (index < 0)
            {
                continue;
            }

            notice(Notices.ApplyingToLoading(name, patch.Objects[index].DisplayName));
            if (Apply(store, patch, index, module, tid) is { } failure)
            {
                Refuse(store, module, tid, applied, name, patch.Objects[index].DisplayName, failure);
                return;
            }

            applied.Add((name, index));
        }
    }

    /// <summary>klp_module_going: every patch, in order, leaves the library; its refusal, if any, is forgotten.</summary>
    public void Going(LoadedModule module, int tid)
    {
        var store = OpenStore();
        foreach (var patch in store.ReadCurrent().Patches.ToList())
        {
            var index = patch.Objects.ToList().FindIndex(o => IsCopy(o, module.Path, module.Start));
            if (index >= 0)
            {
                Revert(store, patch.Name, index, tid, runCallbacks: true);
            }
        }

        ForgetRefusals(store, o => o.Name is not null && module.Matches(o.Name));
    }

    /// <summary>
    /// A library that went away without Graft seeing its munmap (it was unloaded while graftd
    /// was not watching): its records are dropped; its callbacks cannot run on unmapped code.
    /// </summary>
    public void Vanished(string path, ulong start)
    {
        var store = OpenStore();
        foreach (var patch in store.ReadCurrent().Patches.ToList())
        {
            var index = patch.Objects.ToList().FindIndex(o => IsCopy(o, path, start));
            if (index >= 0)
            {
                Revert(store, patch.Name, index, tid: null, runCallbacks: false);
            }
        }
    }

    /// <summary>Whether the object's record is of the copy mapped from <paramref name="path"/> at <paramref name="start"/> (<see cref="PatchedObject.Start"/>).</summary>
    private static bool IsCopy(PatchedObject obj, string path, ulong start) => obj.Path == path && (obj.Start == 0 || obj.Start == start);

    private StateStore OpenStore()
    {
        var store = new StateStore(target.Modules, target.Memory);
        store.Read();
        return store;
    }

    /// <summary>One patch onto the coming library; the reason it could not be, or null.</summary>
    private string? Apply(StateStore store, AppliedPatch patch, int index, LoadedModule module, int tid)
    {
        // The file the target loaded, not whatever the path holds now: only for where the
        // replacements and callbacks lie in it. The loading thread waits in the dynamic linker
        // meanwhile, so nothing is done here that nothing uses: the file is not hashed (no
        // SHA-256 is asked of it below, PatchFile.Parse computes none) and its signature is not
        // verified again. The code that runs is the image the process loaded when the patch was
        // applied, whose signature graft verified then, on the very bytes it wrote into the
        // sealed memfd and checked against what dlopen mapped (Patcher.ReadPatch,
        // PatchCopy.Create and Verify); nothing new is loaded here. So, as the kernel checks a
        // module's signature once, when it loads, and klp_module_coming applies a loaded patch to
        // a coming module without checking it again, a key revoked or a policy tightened since
        // refuses the next apply, not a library coming under this one. A patch an older graft
        // loaded by its path (no memfd) is read there and compared byte for byte with the image
        // mapped: verifying the file's signature would vouch only for what the path holds now,
        // not for the code that runs.
        var code = patch.LoadedFrom is null ? PatchCopy.ReadLoadedByPath(target, patch) : PatchCopy.ReadLoaded(target, patch);
        var definition = code.Objects[index];
        var runner = new CallbackRunner(target, store, Deadline.After(CallbackTimeout), tid);
        var loaded = patch.Objects[index] with { Path = module.Path, BuildId = module.BuildId, Start = module.Start, Refused = null };
        List<ResolvedFunction> functions;
        try
        {
            PatchResolver.CheckBuildId(module, definition.BuildId, target.Pid);
            functions = [.. definition.Functions.Select(f => PatchResolver.ResolveFunction(target, store.ReadCurrent(), module, f, code))];
        }
        catch (GraftException e)
        {
            return e.Message;
        }

        var (prepared, failure) = runner.PrePatch(patch with { Objects = [loaded] });
        loaded = prepared.Objects[0];
        if (failure is not null)
        {
            notice(Notices.PrePatchFailed(failure.Object));
            runner.PostUnpatch(prepared);
            return $"its pre-patch callback returned {failure.Describe()}";
        }

        var state = store.ReadCurrent();
        var current = state.FindPatch(patch.Name)!;
        var slots = new SlotAllocator(target, state);
        var bias = target.Memory.ReadUInt64(patch.Handle);
        var records = functions.Select((f, i) => SlotPreparation.Write(target, f, slots.Allocate(module, f.Analysis.PatchAddress, tid, functions.Count - i), bias).Function).ToList();
        var updated = current with { Functions = [.. current.Functions, .. records], Objects = WithObject(current, index, loaded) };
        state = state.Replace(current, updated) with { SlotPages = [.. state.SlotPages, .. slots.NewPages] };
        var inTransition = patch.Phase is PatchPhase.Patching or PatchPhase.Unpatching;

        // No thread can be in the library's code yet (the loader has not even relocated it), so
        // its entries are written directly; the record goes first, so that a graft killed in
        // between leaves entries the next one knows how to put back.
        store.Write(state);
        if (inTransition)
        {
            Dispatchers.Write(target, state, updated, store.Address + StateLayout.ThreadTableOffset, records);
        }

        foreach (var function in records)
        {
            target.Memory.Write(function.PatchAddress, inTransition ? Redirects.ToDispatcher(function).Bytes : Redirects.PatchedEntry(function));
        }

        if (!inTransition)
        {
            var done = runner.PostPatch(updated with { Objects = [loaded] });
            state = store.ReadCurrent();
            current = state.FindPatch(patch.Name)!;
            store.Write(state.Replace(current, current with { Objects = WithObject(current, index, done.Objects[0]) }));
        }

        return null;
    }

    /// <summary>
    /// A patch failed for a coming library: the kernel refuses the module. A dlopen in progress
    /// cannot be refused from outside, so the closest honest equivalent: the patches already
    /// applied to it are reverted (as the kernel's klp_cleanup_module_patches_limited does),
    /// the library stays loaded with none, and every patch naming it records why.
    /// </summary>
    private void Refuse(StateStore store, LoadedModule module, int tid, List<(string Patch, int Object)> applied, string patch, string display, string reason)
    {
        notice(Notices.RefusingModule(patch, display, reason));
        foreach (var (name, index) in applied)
        {
            Revert(store, name, index, tid, runCallbacks: true);
        }

        var why = $"patch '{patch}' failed for it: {reason}";
        var state = store.ReadCurrent();
        var refused = state.Patches.Select(p => p with
        {
            Objects = [.. p.Objects.Select(o => !o.IsLoaded && o.Name is not null && module.Matches(o.Name) ? o with { Refused = why } : o)],
        });
        store.Write(state with { Patches = [.. refused] });
    }

    /// <summary>
    /// The patch leaves one library object: pre_unpatch unless the patch is in transition (or its
    /// post_patch never ran), the notice, the records of its functions and their empty slot pages
    /// dropped, then post_unpatch where pre_patch ran. The library's code is about to be unmapped,
    /// so its entries are not rewritten.
    /// </summary>
    private void Revert(StateStore store, string name, int index, int? tid, bool runCallbacks)
    {
        var patch = store.ReadCurrent().FindPatch(name)!;
        var obj = patch.Objects[index];
        var runner = new CallbackRunner(target, store, Deadline.After(CallbackTimeout), tid);
        if (runCallbacks && patch.Phase is not (PatchPhase.Patching or PatchPhase.Unpatching))
        {
            obj = runner.PreUnpatch(patch with { Objects = [obj] }).Objects[0];
        }

        notice(Notices.RevertingOnUnloading(name, obj.DisplayName));
        var state = store.ReadCurrent();
        var current = state.FindPatch(name)!;
        var remaining = state.Replace(current, current with
        {
            Functions = [.. current.Functions.Where(f => f.ObjectPath != obj.Path)],
            Objects = WithObject(current, index, obj),
        });
        var pruned = remaining.PruneSlotPages();
        store.Write(pruned.State);
        if (tid is { } loader)
        {
            SlotPages.Unmap(target, loader, pruned.UnusedPages);
        }

        if (runCallbacks)
        {
            runner.PostUnpatch(patch with { Objects = [obj] });
        }

        state = store.ReadCurrent();
        current = state.FindPatch(name)!;
        var gone = obj with { Path = null, BuildId = null, Start = 0, PrePatchDone = false, PostPatchDone = false };
        store.Write(state.Replace(current, current with { Objects = WithObject(current, index, gone) }));
    }

    private static void ForgetRefusals(StateStore store, Func<PatchedObject, bool> matches)
    {
        var state = store.ReadCurrent();
        if (!state.Patches.Any(p => p.Objects.Any(o => o.Refused is not null && matches(o))))
        {
            return;
        }

        var cleared = state.Patches.Select(p => p with { Objects = [.. p.Objects.Select(o => o.Refused is not null && matches(o) ? o with { Refused = null } : o)] });
        store.Write(state with { Patches = [.. cleared] });
    }

    private static List<PatchedObject> WithObject(AppliedPatch patch, int index, PatchedObject obj) =>
        [.. patch.Objects.Select((o, i) => i == index ? obj : o)];
}
