using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;

namespace Graft.Linux.Policies;

/// <summary>
/// graftd's watch of the dynamic linker, the way a debugger does it: an int3 on r_brk (glibc's
/// _dl_debug_state, a bare `ret` the loader calls each time its list of objects changes), or in
/// the loader stub (Graft.X86's LoaderStubCode) r_brk jumps to, and, while a dlclose is unmapping objects,
/// syscall-stops on the thread doing it so that Graft sees each munmap before it happens. A
/// thread that stops there is a <see cref="LoaderStop"/>: it holds the loader's lock, and stays
/// stopped until <see cref="Continue"/>.
/// </summary>
public sealed class LoaderWatch : ITrapHandler, ISyscallObserver
{
    private const byte Int3 = 0xcc;
    private const byte Ret = 0xc3;

    private readonly Tracee tracee;
    private readonly Action<LoaderStop> stopped;
    private readonly Func<ulong, ulong, bool> isWatchedUnmap;
    private readonly Queue<LoaderStop> held = [];

    // Threads stopped on the int3 with rip rewound onto it: going on means emulating its `ret`.
    private readonly HashSet<int> atBreakpoint = [];

    // Threads that run with syscall-stops to see the munmap calls of a dlclose.
    private readonly HashSet<int> watchingUnmaps = [];

    // The registers at the entry of a munmap skipped once, until its exit-stop.
    private readonly Dictionary<int, UserRegs> skippedUnmaps = [];

    // The munmap (start, length) already reported, which runs for real when the thread goes on.
    private readonly Dictionary<int, (ulong Start, ulong Length)> releasedUnmaps = [];

    // Where Graft's int3s are (r_brk, the stub's trap, or both while the watch moves to the
    // stub), and where a thread stopped on one rests: r_brk, whose unwind information ld.so has.
    private readonly HashSet<ulong> breakpoints = [];
    private ulong restAt;
    private bool armed;
    private int serving;
    private bool inHandler;

    /// <summary>
    /// Follows the system calls of <paramref name="tracee"/>'s threads from now on; the int3
    /// comes with <see cref="Watch"/>. <paramref name="stopped"/> is called for each loader
    /// stop within <see cref="Serve"/>, on the ptrace thread, from inside whatever Graft was
    /// waiting for, and must end with <see cref="Continue"/>; outside that scope stops are held
    /// (their threads stay stopped) until the next scope begins.
    /// <paramref name="isWatchedUnmap"/> says which munmap calls, (start, length), are worth a
    /// stop: those of objects that have patches.
    /// </summary>
    public LoaderWatch(Tracee tracee, Action<LoaderStop> stopped, Func<ulong, ulong, bool> isWatchedUnmap)
    {
        this.tracee = tracee;
        this.stopped = stopped;
        this.isWatchedUnmap = isWatchedUnmap;
        tracee.ObserveSyscalls(this);
    }

    /// <summary>
    /// Puts an int3 at <paramref name="trapAt"/>: r_brk itself, or the stub's trap. The byte
    /// there must be a bare `ret`, which Graft then emulates (at both places the return address
    /// into the loader is on top of the stack); an int3 already there is one a graftd that died
    /// left behind, taken over. A thread stopped on it rests at <paramref name="rBrk"/> meanwhile,
    /// where an unwinder finds ld.so's frame information. Called again with the stub's trap, the
    /// int3 on r_brk stays served until the jump to the stub replaces it.
    /// </summary>
    public void Watch(ulong trapAt, ulong rBrk)
    {
        var original = tracee.Memory.Read(trapAt, 1)[0];
        if (original is not (Ret or Int3))
        {
            throw new InjectionException($"cannot watch the dynamic linker of process {tracee.Pid}: its r_brk at 0x{trapAt:x} is not a bare return (0x{original:x2})");
        }

        // Registered before the int3 is written: pairs with a thread that executes the int3 as
        // soon as it is there, whose trap must find this handler rather than be passed on.
        breakpoints.Add(trapAt);
        restAt = rBrk;
        tracee.HandleTrapsAt(trapAt, this);
        tracee.Memory.Write(trapAt, [Int3]);
        armed = true;
    }

    /// <summary>
    /// Takes the int3s away again and serves every trap already taken on them, so that no thread
    /// is left to receive a SIGTRAP once Graft detaches (docs/ARCHITECTURE.md, invariant 1). An
    /// int3 on r_brk that the jump to the stub has replaced is left alone.
    /// </summary>
    public void Unwatch()
    {
        if (!armed)
        {
            return;
        }

        foreach (var trapAt in breakpoints.Where(b => tracee.Memory.Read(b, 1)[0] == Int3))
        {
            tracee.Memory.Write(trapAt, [Ret]);
        }

        breakpoints.Clear();
        armed = false;

        // The `ret` is back before the threads are stopped: pairs with Stop letting a thread take
        // a trap it has pending (Tracee.SettlePendingTrap), which then ends at once (Trapped,
        // unarmed) instead of waiting as a loader stop. A thread asleep in a system call has none:
        // a trap is taken at the int3, outside any system call, and stops the thread there.
        foreach (var tid in tracee.ThreadIds.ToList())
        {
            if (!tracee.IsStopped(tid) && TaskFiles.AsleepInSyscallAt(tracee.Pid, tid) is not null)
            {
                continue;
            }

            if (tracee.Stop(tid, StopKinds.LoaderWatch))
            {
                tracee.Resume(tid);
            }
        }

        foreach (var stop in TakeHeld())
        {
            Continue(stop.Tid);
        }

        watchingUnmaps.Clear();
    }

    /// <summary>Whether a loader stop waits that nobody served yet.</summary>
    public bool HasHeld => held.Count > 0;

    /// <summary>
    /// The running threads whose pc is in [<paramref name="start"/>, <paramref name="end"/>], each
    /// stopped once to read it and resumed at once; a thread already stopped is left as it is,
    /// and so is one asleep in a system call elsewhere (/proc's syscall file; the only system
    /// call a caller's range may hold never sleeps).
    /// </summary>
    public List<int> RunningWithin(ulong start, ulong end)
    {
        var within = new List<int>();
        foreach (var tid in tracee.ThreadIds.Where(t => !tracee.IsStopped(t)).ToList())
        {
            if (TaskFiles.AsleepInSyscallAt(tracee.Pid, tid) is { } asleep && (asleep < start || asleep > end))
            {
                continue;
            }

            if (!tracee.Stop(tid, StopKinds.LoaderWatch))
            {
                continue;
            }

            var pc = tracee.GetRegisters(tid).rip;
            if (pc >= start && pc <= end)
            {
                within.Add(tid);
            }

            tracee.Resume(tid);
        }

        return within;
    }

    /// <summary>Within the returned scope, loader stops go to the handler as they come; held ones first.</summary>
    public IDisposable Serve()
    {
        serving++;
        foreach (var stop in TakeHeld())
        {
            Dispatch(stop);
        }

        return new Scope(() => serving--);
    }

    /// <summary>
    /// Lets a thread go on from its loader stop: from r_brk by returning to its caller, from a
    /// munmap by running it now. <paramref name="watchUnmaps"/> makes its next munmap calls stop
    /// too (between RT_DELETE and the end of the dlclose).
    /// </summary>
    public void Continue(int tid, bool? watchUnmaps = null)
    {
        if (watchUnmaps == true)
        {
            watchingUnmaps.Add(tid);
        }
        else if (watchUnmaps == false)
        {
            watchingUnmaps.Remove(tid);
        }

        if (atBreakpoint.Remove(tid))
        {
            // The `ret` the int3 replaced.
            var regs = tracee.GetRegisters(tid);
            regs.rip = tracee.Memory.ReadUInt64(regs.rsp);
            regs.rsp += 8;
            tracee.SetRegisters(tid, regs);
        }

        tracee.Release(tid);
    }

    /// <summary>
    /// A thread let go from RT_DELETE without syscall-stops (nothing it could unmap had a patch)
    /// has its munmap calls stopped from now on, until its next RT_CONSISTENT: an operation is
    /// about to run that may patch what it unloads.
    /// </summary>
    public void WatchUnmaps(int tid)
    {
        if (!watchingUnmaps.Add(tid) || tracee.IsStopped(tid) || tracee.IsRunningInjected(tid))
        {
            // A stopped thread gets its syscall-stops when it goes on.
            return;
        }

        // Restarted now, it runs with syscall-stops (ISyscallObserver.Follows) from here on.
        if (tracee.Stop(tid, StopKinds.LoaderWatch))
        {
            tracee.Resume(tid);
        }
    }

    /// <summary>A thread stopped on an int3 of the watch waits as a loader stop, at r_brk.</summary>
    void ITrapHandler.Trapped(ThreadStop stop)
    {
        var regs = stop.Registers;
        regs.rip = restAt;
        stop.SetRegisters(regs);
        atBreakpoint.Add(stop.Tid);
        stop.Hold();
        if (!armed)
        {
            // Taken just before the int3 went away: return for the loader and carry on.
            Continue(stop.Tid);
            return;
        }

        Raise(new LoaderStop(stop.Tid, LoaderStopKind.DebugState, 0, 0));
    }

    /// <summary>
    /// The loader's own event inside code Graft runs (the dlopen of a patch, a callback that loads
    /// a library): its `ret` is emulated and the code goes on; what it loaded is caught up with at
    /// the next consistent moment.
    /// </summary>
    UserRegs ITrapHandler.SteppedOver(UserRegs regs)
    {
        regs.rip = tracee.Memory.ReadUInt64(regs.rsp);
        regs.rsp += 8;
        return regs;
    }

    bool ISyscallObserver.Follows(int tid) => watchingUnmaps.Contains(tid);

    /// <summary>
    /// A munmap of a watched object is skipped once, so that the thread waits, before it, as if
    /// stopped anywhere else: at the `syscall` instruction with rax = the number, ready to run it
    /// again when continued.
    /// </summary>
    void ISyscallObserver.Stopped(ThreadStop stop)
    {
        if (skippedUnmaps.Remove(stop.Tid, out var skipped))
        {
            // The exit of the skipped munmap: back to just before the instruction.
            skipped.rip -= 2;
            skipped.rax = (ulong)Syscalls.SYS_munmap;
            skipped.orig_rax = ulong.MaxValue;
            stop.SetRegisters(skipped);
            releasedUnmaps[stop.Tid] = (skipped.rdi, skipped.rsi);
            stop.Hold();
            Raise(new LoaderStop(stop.Tid, LoaderStopKind.Unmap, skipped.rdi, skipped.rsi));
            return;
        }

        var regs = stop.Registers;
        var isUnmapEntry = regs.rax == Syscalls.RaxAtEntry && regs.orig_rax == (ulong)Syscalls.SYS_munmap;
        var released = releasedUnmaps.TryGetValue(stop.Tid, out var unmap) && unmap == (regs.rdi, regs.rsi);
        if (isUnmapEntry && !released && isWatchedUnmap(regs.rdi, regs.rsi))
        {
            skippedUnmaps[stop.Tid] = regs;
            var skip = regs;
            skip.orig_rax = ulong.MaxValue;
            stop.SetRegisters(skip);
        }
        else if (isUnmapEntry)
        {
            releasedUnmaps.Remove(stop.Tid);
        }
    }

    /// <summary>The loader stops that came while nobody served them; their threads are still stopped.</summary>
    private List<LoaderStop> TakeHeld()
    {
        var taken = held.ToList();
        held.Clear();
        return taken;
    }

    private void Raise(LoaderStop stop)
    {
        // The handler is not entered again from inside itself (its injected calls serve the
        // other threads meanwhile): a stop that comes then is held for the next Serve.
        if (serving > 0 && !inHandler)
        {
            Dispatch(stop);
        }
        else
        {
            held.Enqueue(stop);
        }
    }

    private void Dispatch(LoaderStop stop)
    {
        inHandler = true;
        try
        {
            stopped(stop);
        }
        finally
        {
            inHandler = false;
        }
    }

    private sealed class Scope(Action end) : IDisposable
    {
        public void Dispose() => end();
    }
}
