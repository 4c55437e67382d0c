using Graft.Linux.Unwinding;
using Graft.Model;
using Graft.Model.State;
using Graft.Patching.Lifecycle;
using Graft.Patching.Loading;
using Graft.Patching.Target;
using Graft.Patching.Transition;
using Graft.X86;

namespace Graft.Patching;

public sealed partial class Patcher
{
    // How long a rollback, or the unloading after a revert, may wait for a thread to run calls on.
    private static readonly TimeSpan CleanupTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Loads the patch into the process and switches it to the new functions: thread by thread
    /// (per-thread, the default), or all at once when no thread is inside any of them
    /// (stop-world). Applying a patch whose transition is in flight continues it, or reverses an
    /// unpatching. On a failure before the transition starts the process is left as it was.
    /// </summary>
    public OperationReport Apply(int pid, string patchPath, TimeSpan timeout, CancellationToken interruption = default,
        ConsistencyModel model = ConsistencyModel.PerThread, bool force = false)
    {
        var definition = ReadPatch(patchPath);
        var deadline = Deadline.After(timeout, interruption);
        return OnTarget(pid, target =>
        {
            RefuseIfStopped(target);
            SeccompCheck.Run(target);
            var store = new StateStore(target.Modules, target.Tracee.Memory, pid);
            var state = CleanUpInterrupted(target, store, store.Read());
            if (state.FindPatch(definition.Name) is { Phase: PatchPhase.Patching or PatchPhase.Unpatching } inFlight)
            {
                return Resume(target, store, state, inFlight, Universe.New, force, deadline);
            }

            RefuseDuringTransition(state, pid);
            CLibrary.RequireLoader(target);
            var patch = PatchResolver.Resolve(definition, target, state);
            foreach (var absent in patch.Objects.Where(o => o.Module is null))
            {
                Notice(watched is null
                    ? $"'{definition.Name}': object '{absent.Definition.Name}' is not loaded in process {pid}; it will not be patched if it is loaded later (no graftd runs)"
                    : $"'{definition.Name}': object '{absent.Definition.Name}' is not loaded in process {pid}; graftd will patch it when it loads");
            }

            var warnings = patch.Functions.SelectMany(f => f.Warnings).Distinct().ToList();
            foreach (var warning in warnings)
            {
                Notice($"warning: {warning}");
            }

            Notice(Notices.Enabling(definition.Name));
            Notice(Notices.Initializing(definition.Name, patching: true));
            // The same build reverted earlier is still loaded: switch back to that image, as the
            // kernel re-enables a disabled livepatch, rather than load a second copy beside it.
            var reused = state.Disabled.FirstOrDefault(d => d.Name == definition.Name && d.BuildId is not null && d.BuildId == definition.BuildId && d.LoadedFrom is not null);
            return new Application(this, target, store, state, patch, reused, deadline).Run(model, force) with { Warnings = warnings };
        });
    }

    /// <summary>One apply, with what it has done so far, so that a failure can undo exactly that.</summary>
    private sealed class Application(Patcher patcher, TargetProcess target, StateStore store, TargetState state, ResolvedPatch patch, AppliedPatch? reused, Deadline deadline)
    {
        private SlotAllocator slots = new(target, state);
        private readonly Dictionary<ulong, IReadOnlyDictionary<ulong, ulong>> movedInstructions = [];
        private ulong handle;
        private string? loadedFrom;
        private bool recorded;
        private AppliedPatch? prepared;

        public OperationReport Run(ConsistencyModel model, bool force)
        {
            var name = patch.Definition.Name;
            try
            {
                var record = PrePatch(Load());
                if (model == ConsistencyModel.PerThread)
                {
                    var install = record.Functions.Select(f => Redirects.ToDispatcher(f, movedInstructions[f.Slot])).ToList();
                    return patcher.Transit(target, store, With(record), record, Universe.New, install, force, deadline);
                }

                patcher.Notice(Notices.Starting(name, patching: true));
                var recordBytes = StateLayout.Serialize(Patched(With(record), record).State);
                var jumps = record.Functions.Select(f => (f.PatchAddress, Bytes: Redirects.Patched(f))).ToList();
                var statistics = StopWorld.Run(target, deadline, Blockers.For(With(record), record, Universe.New), () =>
                {
                    // The record goes first: if graft dies between the two, a later revert still
                    // knows every byte it may have changed.
                    store.Write(recordBytes);
                    foreach (var (address, bytes) in jumps)
                    {
                        target.Tracee.Memory.Write(address, bytes);
                    }
                });
                patcher.Notice(Notices.Completing(name, patching: true));
                patcher.FinishPatching(target, store, With(record), record);
                patcher.Notice(Notices.Complete(name, patching: true));
                return new OperationReport(name, target.Pid, statistics, record.Functions);
            }
            catch when (!target.Tracee.HasDied && !TransitionStarted())
            {
                // The transition never started, so no post_patch ran: only post_unpatch, where pre_patch ran.
                if (prepared is not null)
                {
                    new CallbackRunner(target, store, Deadline.After(CleanupTimeout)).PostUnpatch(prepared);
                }

                RollBack();
                throw;
            }
        }

        /// <summary>
        /// The pre_patch callbacks, before any thread can reach the patch. A failure cancels the
        /// transition the kernel's way: post_unpatch for the objects whose pre_patch ran, then
        /// the rollback unloads the patch.
        /// </summary>
        private AppliedPatch PrePatch(AppliedPatch record)
        {
            var (done, failure) = new CallbackRunner(target, store, deadline).PrePatch(record);
            if (failure is null)
            {
                prepared = done;
                return done;
            }

            var name = record.Name;
            patcher.Notice($"pre-patch callback failed for object '{failure.Object}'");
            patcher.Notice($"failed to enable patch '{name}'");
            patcher.Notice($"'{name}': canceling transition, going to unpatch");
            patcher.Notice(Notices.Completing(name, patching: false));
            new CallbackRunner(target, store, Deadline.After(CleanupTimeout)).PostUnpatch(done);
            patcher.Notice(Notices.Complete(name, patching: false));
            throw new GraftException(GraftFailure.PrePatchFailed,
                $"patch '{name}' was not applied: the pre-patch callback of object '{failure.Object}' returned {failure.Describe()}");
        }

        /// <summary>Once a per-thread transition is recorded it is never rolled back: a later graft continues or reverses it.</summary>
        private bool TransitionStarted() =>
            recorded && store.ReadCurrent().FindPatch(patch.Definition.Name) is { Phase: PatchPhase.Patching };

        /// <summary>dlopen()s the patch, fills its references to local symbols, and prepares every slot (not reachable yet).</summary>
        private AppliedPatch Load()
        {
            var tid = CallThread.Acquire(target, deadline);
            try
            {
                store.EnsureMapped(target.Tracee, tid);

                // Recorded as loading before and after dlopen, so that what a graft killed from
                // here on leaves behind can be found and undone by the next one.
                var loading = new AppliedPatch(PatchPhase.Loading, patch.Definition.Name, patch.Definition.Path, patch.Definition.BuildId,
                    0, 0, 0, DateTimeOffset.UtcNow, [], []);
                if (reused is null)
                {
                    loadedFrom = PatchCopy.Create(target, store, tid, patch.Definition);
                    WriteState(loading with { LoadedFrom = loadedFrom });
                    handle = new RemoteLoader(target, store).Open(tid, loadedFrom);
                }
                else
                {
                    (handle, loadedFrom) = (reused.Handle, reused.LoadedFrom);
                }

                loading = loading with { LoadedFrom = loadedFrom };
                Reresolve();

                var objects = patch.Objects.Select(o => new PatchedObject(o.Definition.Name, o.Module?.Path, o.Module?.BuildId)).ToList();
                var slotOf = patch.Functions.ToDictionary(f => f, f => slots.Allocate(f.Module, f.Analysis.PatchAddress, tid));
                loading = loading with { Objects = objects, Handle = handle };
                WriteState(loading);

                // struct link_map starts with l_addr, the difference between file and memory addresses.
                var bias = target.Tracee.Memory.ReadUInt64(handle);
                PatchCopy.Verify(target, patch.Definition, bias);
                foreach (var local in patch.LocalSymbols)
                {
                    foreach (var slot in local.Reference.Slots)
                    {
                        target.Tracee.Memory.WriteUInt64(bias + slot.Offset, local.Address + (ulong)slot.Addend);
                    }
                }

                var image = RemoteLoader.ImageOf(target, bias, patch.Definition.Path);
                var functions = patch.Functions.Select(f => Prepare(f, slotOf[f], bias)).ToList();
                return loading with
                {
                    Objects = [.. objects.Zip(patch.Objects, (o, r) => o with
                    {
                        Descriptor = bias + r.Definition.Address,
                        Callbacks = r.Definition.Callbacks.Relocated(bias),
                    })],
                    Phase = PatchPhase.Patched,
                    Handle = handle,
                    ImageStart = image.Start,
                    ImageEnd = image.End,
                    Functions = functions,
                    Replace = patch.Definition.Replace,
                };
            }
            finally
            {
                target.Tracee.Resume(tid);
            }
        }

        /// <summary>
        /// While dlopen ran, graftd served the loader (another thread may have been inside it,
        /// holding its lock): libraries may have come or gone and their handlers changed the
        /// record. The patch is matched again against the process as it is now; from here on
        /// until the end of the operation no library event is served, as the kernel's klp_mutex
        /// keeps module notifiers out of an enable.
        /// </summary>
        private void Reresolve()
        {
            target.Refresh();
            state = Without(store.ReadCurrent());
            patch = PatchResolver.Resolve(patch.Definition, target, state);
            slots = new SlotAllocator(target, state);
        }

        /// <summary>The record without this patch and its new slot pages; a reused image goes back to the disabled ones.</summary>
        private TargetState Without(TargetState current) => current with
        {
            Patches = [.. current.Patches.Where(p => p.Name != patch.Definition.Name)],
            SlotPages = [.. current.SlotPages.Except(slots.NewPages)],
            Disabled = [.. current.Disabled.Where(d => d.Handle != reused?.Handle), .. reused is null ? [] : new[] { reused }],
        };

        /// <summary>Writes the function's slot and keeps where its displaced instructions went.</summary>
        private PatchedFunction Prepare(ResolvedFunction function, ulong slot, ulong bias)
        {
            var (prepared, moved) = SlotPreparation.Write(target, function, slot, bias);
            movedInstructions[slot] = moved;
            return prepared;
        }

        /// <summary>The state as it was, plus this patch and the slot pages mapped for it; a reused image is no longer disabled.</summary>
        private TargetState With(AppliedPatch record) => state with
        {
            Patches = [.. state.Patches, record],
            SlotPages = [.. state.SlotPages, .. slots.NewPages],
            Disabled = [.. state.Disabled.Where(d => d.Handle != reused?.Handle)],
        };

        private void WriteState(AppliedPatch record)
        {
            store.Write(StateLayout.Serialize(With(record)));
            recorded = true;
        }

        private void RollBack()
        {
            if (handle == 0 && loadedFrom is null && slots.NewPages.Count == 0 && !recorded && !store.CreatedMapping)
            {
                return;
            }

            // The record goes first: the dlclose serves library events, whose handlers read it.
            if (recorded)
            {
                store.Write(StateLayout.Serialize(Without(store.ReadCurrent())));
            }

            var tid = CallThread.Acquire(target, Deadline.After(CleanupTimeout));
            try
            {
                // A reused image stays loaded, disabled again (Without).
                if (handle != 0 && reused is null)
                {
                    new RemoteLoader(target, store).Close(tid, handle);
                }

                if (loadedFrom is not null && reused is null)
                {
                    PatchCopy.Close(target, tid, loadedFrom);
                }

                slots.UnmapNewPages(tid);
                store.UnmapIfCreatedAndEmpty(target.Tracee, tid);
            }
            finally
            {
                target.Tracee.Resume(tid);
            }
        }
    }
}
