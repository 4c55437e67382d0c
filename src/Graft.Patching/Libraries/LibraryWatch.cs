using Graft.Linux.Inspection;
using Graft.Linux.Policies;
using Graft.Linux.Tracing;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.Patching.Transitions;
using Graft.X86;

namespace Graft.Patching.Libraries;

/// <summary>
/// Follows the dynamic linker of a watched process (the kernel's module coming/going notifier):
/// at each RT_CONSISTENT after RT_ADD the libraries just mapped come (<see cref="LibraryEvents.Coming"/>);
/// after RT_DELETE the unloading thread's munmap of a library a patch names is where it goes.
/// It also keeps which libraries are alive (the kernel's mod->klp_alive), so that an apply
/// never patches a library the loader is still mapping: that one gets every patch, in order,
/// from its coming handler. Patched by the apply as well, it would get the older patches from that
/// handler stacked on top of the new one, in another order than the rest of the process.
/// </summary>
internal sealed class LibraryWatch
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan DetachTimeout = TimeSpan.FromMilliseconds(200);

    private readonly TargetProcess target;
    private readonly LoaderDebugState debugState;
    private readonly LibraryEvents events;
    private readonly LoaderWatch loader;
    private readonly Action<string> notice;
    private readonly HashSet<(string Path, ulong Start)> alive = [];

    // Threads between RT_DELETE and RT_CONSISTENT that run without their munmaps watched.
    private readonly HashSet<int> unloadingUnwatched = [];
    private bool? guarded;

    // The stub r_brk jumps to, once the process has a state mapping to hold it; null while the
    // int3 on r_brk serves, for good once the stub was found unfit (LoaderStub.TryArm).
    private LoaderStub? stub;
    private bool stubUnfit;

    // From BeforeOperation to CatchUp the stub traps at every event, as an int3 on r_brk would:
    // the operation holds the loader's events, and resolves only libraries that have come.
    private bool inOperation;

    // A thread is between an RT_DELETE served here and the RT_CONSISTENT that ends its dlclose.
    private bool unloading;

    // Set once TryDetach has let the stub call graftd back: Stop then leaves the stub armed.
    private DetachedLoaderWatch? detached;

    // The state record as last read, with the mapping and commit word it was read at. graftd is
    // its only writer while it holds the process, and every write changes the commit word (its
    // generation): an unchanged word is an unchanged record, not parsed again at every event.
    private (ulong Address, ulong Commit, TargetState State) record;

    private LibraryWatch(TargetProcess target, LoaderDebugState debugState, Action<string> notice)
    {
        this.target = target;
        this.debugState = debugState;
        this.notice = notice;
        events = new LibraryEvents(target, debugState, notice);
        loader = target.WatchLoader(OnLoaderStop, IsWatchedUnmap);
    }

    /// <summary>
    /// Starts watching at a moment the loader is consistent; null for a static program, which
    /// loads nothing. With <paramref name="detached"/>, what this graftd kept when it detached,
    /// it takes the stub back as it left it (<see cref="Resume"/>) where the process still has it.
    /// </summary>
    public static LibraryWatch? Start(TargetProcess target, Action<string> notice, DetachedLoaderWatch? detached)
    {
        if (LoaderDebugState.Find(target.Modules, target.Memory) is not { } debugState)
        {
            detached?.Dispose();
            return null;
        }

        if (detached is not null)
        {
            if (Resume(target, notice, debugState, detached) is { } resumed)
            {
                return resumed;
            }

            notice($"graftd's loader stub in process {target.Pid} is not as graftd left it; watching the dynamic linker from scratch");
            detached.Dispose();
        }

        var deadline = Deadline.After(SettleTimeout);
        while (debugState.State != LoaderState.Consistent)
        {
            if (!deadline.Allows(TimeSpan.FromMilliseconds(10)))
            {
                throw new GraftException(GraftFailure.Timeout, $"the dynamic linker of process {target.Pid} stayed busy for {SettleTimeout.TotalSeconds} s");
            }

            target.Pump(TimeSpan.FromMilliseconds(10));
        }

        var watch = new LibraryWatch(target, debugState, notice);
        target.Refresh();
        watch.alive.UnionWith(target.Modules.Modules.Select(Key));
        target.IsAlive = m => watch.alive.Contains(Key(m));
        watch.guarded = LoaderTrapGuard.Install(target, debugState.Brk);
        if (!watch.TryMoveToStub())
        {
            watch.loader.Watch(debugState.Brk, debugState.Brk);
        }

        target.Loader = watch.loader;
        return watch;
    }

    /// <summary>
    /// Takes back the stub this graftd left calling it back. No wait for a consistent loader
    /// here: a thread may be inside the stub, waiting for graftd's answer in the middle of a load
    /// or an unload; it traps once the stub is attached again, and is served as any loader stop.
    /// What had come when graftd detached is alive still if it is mapped; what is mapped besides
    /// came unseen if no patch names it (a named library is never known to the stub, so it can
    /// only come through a stop: one mapped but not alive is left to its coming handler).
    /// </summary>
    private static LibraryWatch? Resume(TargetProcess target, Action<string> notice, LoaderDebugState debugState, DetachedLoaderWatch detached)
    {
        if (LoaderStub.Adopt(target, debugState, detached) is not { } adopted)
        {
            return null;
        }

        var watch = new LibraryWatch(target, debugState, notice);
        watch.alive.UnionWith(detached.Alive);
        watch.TakeInUnseen();
        target.IsAlive = m => watch.alive.Contains(Key(m));
        watch.guarded = LoaderTrapGuard.Install(target, debugState.Brk);
        watch.stub = adopted;
        watch.loader.Watch(adopted.TrapAddress, debugState.Brk);
        target.Loader = watch.loader;
        adopted.Attach();
        return watch;
    }

    /// <summary>
    /// Lets graftd stop tracing the process while the stub still watches its loader: a wanted
    /// event then calls graftd back instead of trapping (<see cref="LoaderStub.Detach"/>). Null,
    /// with nothing changed, where that cannot be now: no stub with a socket, an operation, a
    /// transition or a dlclose under way, or a thread that stays between the stub's check and its int3. Every
    /// thread found there is let reach the int3 and served first; none can enter once the field
    /// is cleared. The int3 and the SIGTRAP handler go with <see cref="Stop"/>.
    /// </summary>
    public DetachedLoaderWatch? TryDetach()
    {
        if (stub?.Channel is not { } channel || !CanDetach())
        {
            return null;
        }

        stub.Detach();
        var (start, end) = stub.TrapWindow;
        var deadline = Deadline.After(DetachTimeout);
        while (true)
        {
            using (loader.Serve())
            {
                target.Pump(TimeSpan.FromMilliseconds(1));
            }

            // A thread served just now may have begun an unload, which needs the munmap watch.
            if (!CanDetach())
            {
                break;
            }

            if (loader.RunningWithin(start, end).Count == 0 && !loader.HasHeld)
            {
                detached = new DetachedLoaderWatch(alive.ToHashSet(), channel, stub.Pidfd);
                return detached;
            }

            if (!deadline.Allows(TimeSpan.FromMilliseconds(1)))
            {
                break;
            }
        }

        stub.Attach();
        return null;
    }

    /// <summary>Undoes <see cref="TryDetach"/> while graftd still traces the process: wanted events trap again.</summary>
    public void Reattach()
    {
        if (detached is not null)
        {
            stub!.Attach();
            detached = null;
        }
    }

    // A transition in flight keeps graftd attached: it retries the sweeps and follows new threads.
    // The record is read again only if its commit word changed (Record).
    private bool CanDetach() =>
        !inOperation && !unloading && unloadingUnwatched.Count == 0 && debugState.State == LoaderState.Consistent
        && Record().InTransition is null;

    public void Stop()
    {
        if (detached is not null)
        {
            // The stub stays armed and calls graftd back; only what needs a tracer goes.
            loader.Unwatch();
            LoaderTrapGuard.Remove(target);
            target.Loader = null;
            target.IsAlive = _ => true;
            return;
        }

        // Disarmed before the int3s go: no thread enters the stub's int3 after this.
        stub?.Disarm();
        loader.Unwatch();
        LoaderTrapGuard.Remove(target);
        target.Loader = null;
        target.IsAlive = _ => true;
    }

    /// <summary>How many loader stops this watch has served.</summary>
    public int EventsServed { get; private set; }

    /// <summary>
    /// Whether graftd must go on following the loader for these patches: one names a library
    /// that is not loaded (to be patched when it loads), or one that is loaded and may be
    /// unloaded (to be unpatched before it is unmapped). The objects the program started with
    /// (the executable and what it needs, transitively: glibc's lt_executable and lt_library)
    /// are never unloaded, so patches of those alone need no watch.
    /// </summary>
    public bool IsNeededFor(TargetState state)
    {
        var permanent = StartupObjects();
        return state.Patches.Any(p => p.Objects.Any(o =>
            o.Name is not null && !(target.Modules.Find(o.Name) is { } module && permanent.Contains(module))));
    }

    /// <summary>
    /// Before an operation of Graft's own: a dlclose under way that was let go unwatched (no
    /// library a patch names was alive) may unload a library the operation is about to patch;
    /// its munmaps are watched from now on, so that the library goes through its going handler.
    /// With the stub, which let loads and unloads of known objects pass unseen, every event traps
    /// again, the loader is let reach a consistent moment, and what came and went unseen is
    /// taken into the alive set (<see cref="Resynchronize"/>).
    /// </summary>
    public void BeforeOperation()
    {
        foreach (var tid in unloadingUnwatched.Where(target.ThreadIds.Contains).ToList())
        {
            loader.WatchUnmaps(tid);
        }

        unloadingUnwatched.Clear();
        inOperation = true;
        if (stub is not null)
        {
            stub.Want(LoaderStub.Every);
            Resynchronize();
        }
    }

    /// <summary>
    /// Once every event traps: waits, serving loader stops, until no load or unload is under way
    /// (one that started before traps at its RT_CONSISTENT at the latest), then drops from the
    /// alive set what is no longer mapped and adds what the stub let come unseen. Only objects no
    /// patch names can have come unseen (a named one is never among the known names), so one
    /// that a patch names and the loader is still mapping is left to its coming handler.
    /// </summary>
    private void Resynchronize()
    {
        var deadline = Deadline.After(SettleTimeout);
        using (loader.Serve())
        {
            while (debugState.State != LoaderState.Consistent)
            {
                if (!deadline.Allows(TimeSpan.FromMilliseconds(1)))
                {
                    throw new GraftException(GraftFailure.Timeout, $"the dynamic linker of process {target.Pid} stayed busy for {SettleTimeout.TotalSeconds} s");
                }

                target.Pump(TimeSpan.FromMilliseconds(1));
            }
        }

        TakeInUnseen();
    }

    /// <summary>
    /// What came and went while the stub let loads and unloads pass unseen: what is no longer
    /// mapped leaves the alive set, and what is mapped and named by no patch joins it (a named
    /// library is never known to the stub, so it comes only through a stop).
    /// </summary>
    private void TakeInUnseen()
    {
        target.Refresh();
        var modules = target.Modules.Modules;
        var mapped = modules.Select(Key).ToHashSet();
        alive.RemoveWhere(k => !mapped.Contains(k));
        var named = NamedByAPatch();
        alive.UnionWith(modules.Where(m => !named(m)).Select(Key));
    }

    /// <summary>
    /// After an operation of Graft's own: libraries its injected dlopen brought in (the patch,
    /// its dependencies) were mapped while the loader's events were Graft's to step over; they
    /// come now, on a thread fit for calls, if some patch names them.
    /// </summary>
    public void CatchUp()
    {
        // The operation may have mapped the state mapping (the first apply into a process, where
        // the handler lives) or unmapped it again (its rollback): the map is read again first.
        target.Refresh();
        guarded ??= LoaderTrapGuard.Install(target, debugState.Brk);
        TryMoveToStub();
        inOperation = false;
        if (debugState.State != LoaderState.Consistent)
        {
            // The stub keeps trapping at every event until the RT_CONSISTENT under way is served.
            return;
        }

        var fresh = target.Modules.Modules.Where(m => !alive.Contains(Key(m))).ToList();
        var named = fresh.Where(NamedByAPatch()).ToList();
        if (named.Count > 0)
        {
            using var caller = CallerThread.Acquire(target, Deadline.After(SettleTimeout), StopPurposes.LibraryComing);
            named.ForEach(m => events.Coming(m, caller.Tid));
        }

        alive.UnionWith(fresh.Select(Key));
        Narrow();
    }

    /// <summary>
    /// Moves the watch from an int3 on r_brk (or from nothing, at the start) to the stub, where
    /// the process has what it needs (<see cref="LoaderStub"/>); true if the stub serves.
    /// The stub's int3 is armed before r_brk jumps to it, and an int3 on r_brk stays served
    /// until the jump replaces it: no loader event goes unseen meanwhile.
    /// </summary>
    private bool TryMoveToStub()
    {
        if (stub is not null || stubUnfit)
        {
            return stub is not null;
        }

        if (StateStore.FindMapping(target.Modules) == 0)
        {
            return false;
        }

        if (LoaderStub.TryArm(target, debugState) is not { } armed)
        {
            stubUnfit = true;
            return false;
        }

        loader.Watch(armed.TrapAddress, debugState.Brk);
        try
        {
            if (!armed.IsJumpedTo)
            {
                armed.WriteJump();
            }
        }
        catch (Exception e) when (e is GraftException or InjectionException && !armed.IsJumpedTo)
        {
            // The write was settled back to r_brk as it was (its `ret`, or the int3 served here).
            notice($"warning: graftd watches the dynamic linker of process {target.Pid} with an int3 on r_brk: its jump to graftd's stub could not be written ({e.Message})");
            armed.Disarm();
            stubUnfit = true;
            return false;
        }

        stub = armed;
        return true;
    }

    /// <summary>
    /// Serves one loader stop. Whatever happens, the thread goes on: a failure is reported
    /// loudly and leaves the library unpatched rather than the program stuck in its loader.
    /// </summary>
    private void OnLoaderStop(LoaderStop stop)
    {
        EventsServed++;
        // From RT_DELETE to the RT_CONSISTENT that ends the dlclose, the thread's munmaps are watched.
        bool? watchUnmaps = null;
        try
        {
            if (stop.Kind == LoaderStopKind.Unmap)
            {
                Unmapping(stop);
            }
            else
            {
                var state = debugState.State;
                watchUnmaps = state == LoaderState.Deleting && MayUnloadAPatchedLibrary();
                if (state == LoaderState.Deleting && watchUnmaps == false)
                {
                    unloadingUnwatched.Add(stop.Tid);
                }
                else
                {
                    unloadingUnwatched.Remove(stop.Tid);
                }

                if (state == LoaderState.Consistent)
                {
                    Consistent(stop.Tid);
                }

                // Still at the loader's event, its lock held: no other thread is in the loader. Not
                // at RT_ADD, where the lists may already hold objects the loader is still mapping,
                // which have not come: known, their RT_CONSISTENT would not stop.
                if (state != LoaderState.Adding)
                {
                    unloading = state == LoaderState.Deleting;
                    Narrow();
                }
            }
        }
        catch (Exception e) when (e is GraftException or InjectionException or RemoteMemoryException or Linux.Interop.ErrnoException)
        {
            notice($"error: handling a library load or unload in process {target.Pid} failed: {e.Message}");
        }
        finally
        {
            loader.Continue(stop.Tid, watchUnmaps);
        }
    }

    /// <summary>
    /// What the stub traps for from here on, at a moment when every object in the loader's lists
    /// has come: RT_CONSISTENT only for an object not among those now known (or always, until the
    /// dlclose of an RT_DELETE served here ends); RT_DELETE while a library a patch names may
    /// unload; never RT_ADD. Nothing changes during an operation, nor with the int3 on r_brk.
    /// </summary>
    private void Narrow()
    {
        if (stub is null || inOperation)
        {
            return;
        }

        var wanted = MayUnloadAPatchedLibrary() ? 1u << (int)LoaderState.Deleting : 0;
        if (unloading || !stub.Know(debugState.ObjectNames()))
        {
            wanted |= 1u << (int)LoaderState.Consistent;
        }

        stub.Want(wanted | LoaderStubCode.KnownObjectsFilter);
    }

    /// <summary>The loader's list is whole again: what is new has come, what has gone is dropped.</summary>
    private void Consistent(int tid)
    {
        target.Refresh();
        var modules = target.Modules.Modules;
        var mapped = modules.Select(Key).ToHashSet();
        foreach (var gone in alive.Where(k => !mapped.Contains(k)).ToList())
        {
            alive.Remove(gone);
            if (Record().Patches.Any(p => p.Objects.Any(o => o.Path == gone.Path)))
            {
                events.Vanished(gone.Path, gone.Start);
            }
        }

        var fresh = modules.Where(m => !alive.Contains(Key(m))).OrderBy(m => m.Start).ToList();
        if (fresh.Count == 0)
        {
            return;
        }

        var named = NamedByAPatch();
        foreach (var module in fresh)
        {
            if (named(module))
            {
                events.Coming(module, tid);
            }

            alive.Add(Key(module));
        }
    }

    /// <summary>
    /// At RT_DELETE: whether the dlclose may unmap a library some patch names, whose munmap must
    /// then be seen before it happens. If none is alive, the thread runs on without syscall-stops.
    /// The main executable is never unloaded.
    /// </summary>
    private bool MayUnloadAPatchedLibrary()
    {
        var named = NamedByAPatch();
        return target.Modules.Modules.Any(m => !m.IsMainExecutable && alive.Contains(Key(m)) && named(m));
    }

    private void Unmapping(LoaderStop stop)
    {
        foreach (var module in Within(stop.UnmapStart, stop.UnmapLength))
        {
            events.Going(module, stop.Tid);
            alive.Remove(Key(module));
        }
    }

    private bool IsWatchedUnmap(ulong start, ulong length) => Within(start, length) is { Count: > 0 } within && within.Any(NamedByAPatch());

    private List<LoadedModule> Within(ulong start, ulong length) =>
        [.. target.Modules.Modules.Where(m => alive.Contains(Key(m)) && m.Start >= start && m.Start < start + length)];

    /// <summary>Whether a patch names an object, by the state record read once for all the objects asked about.</summary>
    private Func<LoadedModule, bool> NamedByAPatch()
    {
        var patches = Record().Patches;
        return module => patches.Any(p => p.Objects.Any(o => o.Path == module.Path || (o.Name is not null && module.Matches(o.Name))));
    }

    private TargetState Record()
    {
        var address = StateStore.FindMapping(target.Modules);
        if (address == 0)
        {
            return TargetState.Empty;
        }

        var commit = target.Memory.ReadUInt64(address + StateLayout.CommitWordOffset);
        if (record.Address != address || record.Commit != commit)
        {
            record = (address, commit, new StateStore(target.Modules, target.Memory).Read());
        }

        return record.State;
    }

    /// <summary>The main executable and its DT_NEEDED libraries, transitively, as mapped now.</summary>
    private HashSet<LoadedModule> StartupObjects()
    {
        var modules = target.Modules;
        var found = new HashSet<LoadedModule> { modules.MainExecutable };
        var pending = new Queue<LoadedModule>(found);
        while (pending.TryDequeue(out var module))
        {
            IReadOnlyList<string> needed;
            try
            {
                needed = module.Elf.Needed;
            }
            catch (Elf.ElfFormatException)
            {
                // Its dependencies stay unknown: patches naming them keep the watch.
                continue;
            }

            foreach (var name in needed)
            {
                if (modules.Modules.FirstOrDefault(m => !m.IsVdso && (m.Soname == name || m.FileName == name)) is { } dependency && found.Add(dependency))
                {
                    pending.Enqueue(dependency);
                }
            }
        }

        return found;
    }

    private static (string Path, ulong Start) Key(LoadedModule module) => (module.Path, module.Start);
}
