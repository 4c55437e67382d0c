using Graft.Model;
using Graft.Model.Patches;
using Graft.Model.State;
using Graft.Patching.Lifecycle;
using Graft.Patching.Loading;
using Graft.Patching.Redirect;
using Graft.Patching.Service;
using Graft.Patching.Target;
using Graft.Patching.Transitions;

namespace Graft.Patching.Operations;

/// <summary>
/// One apply (klp_enable_patch), with what it has done so far, so that a failure before its
/// transition starts undoes exactly that: load the patch and prepare its slots
/// (<see cref="Load"/>), then per-thread the kernel's order (init, pre_patch, start, try to
/// complete, complete) or stop-world (pre_patch, one stop that switches every thread, complete).
/// </summary>
internal sealed class Application(OpenTarget opened, PatchDefinition definition, Deadline deadline, Action<string> notice, bool watched,
    IProgress<TransitionSnapshot>? progress)
{
    private readonly TargetProcess target = opened.Target;
    private readonly StateStore store = opened.Store;
    private TargetState state = opened.State;
    private ResolvedPatch patch = null!;
    private SlotAllocator slots = new(opened.Target, opened.State);
    private readonly Dictionary<ulong, IReadOnlyDictionary<ulong, ulong>> movedInstructions = [];
    private readonly ArenaWitness arenas = new(opened.Target);

    // The same build reverted earlier is still loaded: switch back to that image, as the kernel
    // re-enables a disabled livepatch, rather than load a second copy beside it.
    private readonly AppliedPatch? reused = opened.State.Disabled.FirstOrDefault(d =>
        d.Name == definition.Name && d.BuildId is not null && d.BuildId == definition.BuildId && d.LoadedFrom is not null);

    private ulong handle;
    private string? loadedFrom;
    private bool recorded;
    private AppliedPatch? prepared;

    private string Name => definition.Name;

    public OperationReport Run(ConsistencyModel model, bool force)
    {
        RefuseDuringTransition(state, target.Pid);
        CLibrary.RequireLoader(target);
        patch = PatchResolver.Resolve(definition, target, state);
        foreach (var absent in patch.Objects.Where(o => o.Module is null))
        {
            notice(watched
                ? $"'{Name}': object '{absent.Definition.Name}' is not loaded in process {target.Pid}; graftd will patch it when it loads"
                : $"'{Name}': object '{absent.Definition.Name}' is not loaded in process {target.Pid}; it will not be patched if it is loaded later: {ServiceSocket.NoneAnswers()}");
        }

        var warnings = patch.Functions.SelectMany(f => f.Warnings).Distinct().ToList();
        foreach (var warning in warnings)
        {
            notice($"warning: {warning}");
        }

        notice(Notices.Enabling(Name));
        notice(Notices.Initializing(Name, patching: true));
        OperationReport report;
        try
        {
            var record = Load();
            deadline.ThrowIfPassed(target.Pid, "while the patch was loaded");
            report = model == ConsistencyModel.PerThread ? PerThread(record, force) : StopWorld(record);
        }
        catch (Linux.Tracing.InjectionException e) when (e.RunsOn)
        {
            // The dlopen still runs, holding the loader's lock, which every undo would wait for. The
            // record says loading, as a graft killed inside dlopen leaves it: the next operation unloads
            // the patch once the call has ended (Recovery.CleanUpInterrupted).
            throw new GraftException(GraftFailure.Timeout,
                $"process {target.Pid}: the timeout passed while the dynamic linker loaded patch '{Name}': {e.Message}; "
                + "the patch stays recorded as loading, and the next graft operation on the process unloads it once that call has returned", e);
        }
        catch when (!target.HasDied && !TransitionStarted())
        {
            // The transition never started, so no post_patch ran: only post_unpatch, where pre_patch ran.
            if (prepared is not null)
            {
                new CallbackRunner(target, store, Deadline.After(Completion.CleanupTimeout)).PostUnpatch(prepared);
            }

            RollBack();
            throw;
        }

        // Only now, with nothing left to roll back: a refused apply leaves no agent behind.
        if (report.InFlight is null)
        {
            AgentThread.StartIfMissing(target, store, deadline);
        }

        return report with { Warnings = warnings };
    }

    /// <summary>One transition at a time, as in the kernel: another patch waits until the one in flight is finished or reversed.</summary>
    public static void RefuseDuringTransition(TargetState state, int pid)
    {
        if (state.InTransition is { } inFlight)
        {
            throw new GraftException(GraftFailure.Refused,
                $"patch '{inFlight.Name}' is in transition in process {pid}; finish it with 'graft continue {pid}' or reverse it with 'graft revert {pid} {inFlight.Name}' first");
        }
    }

    private OperationReport PerThread(AppliedPatch record, bool force)
    {
        using var transition = Transition.Init(target, store, With(record), record, Universe.New, notice);
        AppliedPatch ready;
        try
        {
            ready = PrePatch(record);
        }
        catch
        {
            transition.Cancel();
            throw;
        }

        transition.Start(ready, [.. ready.Functions.Select(f => Redirects.ToDispatcher(f, movedInstructions[f.Slot]))]);
        return Patcher.Drive(transition, target.Pid, force, deadline, progress);
    }

    private OperationReport StopWorld(AppliedPatch record)
    {
        record = PrePatch(record);
        notice(Notices.Starting(Name, patching: true));

        // Serialized before the stop, so that nothing slow runs while every thread waits.
        var recordBytes = StateLayout.Serialize(TransitionRecord.CompletePatching(With(record), record).State);
        var jumps = record.Functions.Select(f => (f.PatchAddress, Bytes: Redirects.PatchedEntry(f))).ToList();
        var statistics = Transitions.StopWorld.Run(target, deadline, Blockers.For(With(record), record, Universe.New), () =>
        {
            // The record goes first: if graft dies between the two, a later revert still
            // knows every byte it may have changed.
            store.Write(recordBytes);
            foreach (var (address, bytes) in jumps)
            {
                target.Memory.Write(address, bytes);
            }
        }, Transitions.StopWorld.Reporting(progress, Name, patching: true));
        notice(Notices.Completing(Name, patching: true));
        Completion.Patched(target, store, With(record), record, notice);
        notice(Notices.Complete(Name, patching: true));
        return new OperationReport(Name, target.Pid, statistics, record.Functions);
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

        notice(Notices.PrePatchFailed(failure.Object));
        notice(Notices.EnableFailed(Name));
        notice(Notices.Canceling(Name));
        notice(Notices.Completing(Name, patching: false));
        new CallbackRunner(target, store, Deadline.After(Completion.CleanupTimeout)).PostUnpatch(done);
        notice(Notices.Complete(Name, patching: false));
        throw failure.Timeout ?? new GraftException(GraftFailure.PrePatchFailed,
            $"patch '{Name}' was not applied: the pre-patch callback of object '{failure.Object}' returned {failure.Describe()}");
    }

    /// <summary>Once a per-thread transition is recorded it is never rolled back: a later graft continues or reverses it.</summary>
    private bool TransitionStarted() =>
        recorded && store.ReadCurrent().FindPatch(Name) is { Phase: PatchPhase.Patching };

    /// <summary>dlopen()s the patch, fills its references to local symbols, and prepares every slot (not reachable yet).</summary>
    private AppliedPatch Load()
    {
        deadline.ThrowIfPassed(target.Pid, "before graft could load the patch");
        using var caller = CallerThread.Acquire(target, deadline, StopPurposes.Load);
        var tid = caller.Tid;
        store.EnsureMapped(target, tid);

        // Recorded as loading before and after dlopen, so that what a graft killed from
        // here on leaves behind can be found and undone by the next one.
        var loading = new AppliedPatch(PatchPhase.Loading, Name, definition.Path, definition.BuildId,
            0, 0, 0, DateTimeOffset.UtcNow, [], []);
        if (reused is null)
        {
            loadedFrom = PatchCopy.Create(target, store, tid, definition);
            WriteState(loading with { LoadedFrom = loadedFrom });
            handle = new RemoteLoader(target, store).Open(tid, loadedFrom, deadline);
        }
        else
        {
            (handle, loadedFrom) = (reused.Handle, reused.LoadedFrom);
        }

        loading = loading with { LoadedFrom = loadedFrom };
        Reresolve();

        var objects = patch.Objects.Select(o => new PatchedObject(o.Definition.Name, o.Module?.Path, o.Module?.BuildId) { Start = o.Module?.Start ?? 0 }).ToList();
        var slotOf = patch.Functions.Select((f, i) => (f, Slot: slots.Allocate(f.Module, f.Analysis.PatchAddress, tid, patch.Functions.Count - i)))
            .ToDictionary(p => p.f, p => p.Slot);
        loading = loading with { Objects = objects, Handle = handle };
        WriteState(loading);

        // struct link_map starts with l_addr, the difference between file and memory addresses.
        var bias = target.Memory.ReadUInt64(handle);
        PatchCopy.Verify(target, definition, bias);
        foreach (var local in patch.LocalSymbols)
        {
            foreach (var slot in local.Reference.Slots)
            {
                target.Memory.WriteUInt64(bias + slot.Offset, local.Address + (ulong)slot.Addend);
            }
        }

        var image = RemoteLoader.ImageOf(target, bias, definition.Path);
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
            Replace = definition.Replace,
        };
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
        patch = PatchResolver.Resolve(definition, target, state);
        slots = new SlotAllocator(target, state);
    }

    /// <summary>The record without this patch and its new slot pages; a reused image goes back to the disabled ones.</summary>
    private TargetState Without(TargetState current) => current with
    {
        Patches = [.. current.Patches.Where(p => p.Name != Name)],
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
        store.Write(With(record));
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
            store.Write(Without(store.ReadCurrent()));
        }

        using (var caller = CallerThread.Acquire(target, Deadline.After(Completion.CleanupTimeout), StopPurposes.Dlclose))
        {
            // A reused image stays loaded, disabled again (Without).
            if (handle != 0 && reused is null)
            {
                new RemoteLoader(target, store).Close(caller.Tid, handle);
            }

            if (loadedFrom is not null && reused is null)
            {
                PatchCopy.Close(target, caller.Tid, loadedFrom);
            }

            slots.UnmapNewPages(caller.Tid);
            store.UnmapIfCreatedAndEmpty(target, caller.Tid);
        }

        foreach (var warning in arenas.Warnings())
        {
            notice(warning);
        }
    }
}
