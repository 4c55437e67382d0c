using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Watching the dynamic linker, the way a debugger does: an int3 on r_brk (glibc's
/// _dl_debug_state, a bare `ret` the loader calls each time its list of objects changes), and,
/// while a dlclose is unmapping objects, syscall-stops on the thread doing it so that Graft sees
/// each munmap before it happens. A thread that stops there is a <see cref="LoaderStop"/>: it
/// holds the loader's lock, and stays stopped until <see cref="ContinueFromLoader"/>.
/// </summary>
public sealed partial class Tracee
{
    private const byte Int3 = 0xcc;
    private const byte Ret = 0xc3;
    private static readonly ulong SyscallEntryRax = unchecked((ulong)-Errno.ENOSYS);

    private readonly Queue<LoaderStop> heldLoaderStops = [];
    private ulong loaderBreakpoint;
    private bool loaderArmed;
    private int servingLoader;
    private bool inLoaderHandler;

    /// <summary>
    /// Called for each loader stop while <see cref="ServeLoader"/> is in effect, on the ptrace
    /// thread, from inside whatever Graft was waiting for; it must end with
    /// <see cref="ContinueFromLoader"/>. Outside that scope stops are held (their threads stay
    /// stopped) until the next scope begins.
    /// </summary>
    public Action<LoaderStop>? LoaderStopped { get; set; }

    /// <summary>Which munmap calls, (start, length), are worth a stop: those of objects that have patches.</summary>
    public Func<ulong, ulong, bool> IsWatchedUnmap { get; set; } = (_, _) => false;

    /// <summary>
    /// Puts an int3 on r_brk. The loader's function there must be a bare `ret`, which Graft then
    /// emulates; an int3 already there is one a graftd that died left behind, taken over.
    /// </summary>
    public void WatchLoader(ulong rBrk)
    {
        CheckOwner();
        var original = Memory.Read(rBrk, 1)[0];
        if (original is not (Ret or Int3))
        {
            throw new InjectionException($"cannot watch the dynamic linker of process {Pid}: its r_brk at 0x{rBrk:x} is not a bare return (0x{original:x2})");
        }

        loaderBreakpoint = rBrk;
        Memory.Write(rBrk, [Int3]);
        loaderArmed = true;
    }

    /// <summary>
    /// Takes the int3 away again and serves every trap already taken on it, so that no thread
    /// is left to receive a SIGTRAP once Graft detaches (docs/ARCHITECTURE.md, invariant 1).
    /// </summary>
    public void UnwatchLoader()
    {
        CheckOwner();
        if (!loaderArmed)
        {
            return;
        }

        Memory.Write(loaderBreakpoint, [Ret]);
        loaderArmed = false;

        // Stopping a thread takes a trap it has pending (SettlePendingTrap), which ends at once
        // now that the int3 is gone.
        foreach (var tid in threads.Keys.ToList())
        {
            if (Stop(tid))
            {
                Resume(tid);
            }
        }

        foreach (var stop in TakeHeldLoaderStops())
        {
            ContinueFromLoader(stop.Tid);
        }

        foreach (var thread in threads.Values)
        {
            thread.WatchesUnmaps = false;
        }
    }

    /// <summary>Within the returned scope, loader stops go to <see cref="LoaderStopped"/> as they come; held ones first.</summary>
    public IDisposable ServeLoader()
    {
        CheckOwner();
        servingLoader++;
        foreach (var stop in TakeHeldLoaderStops())
        {
            Dispatch(stop);
        }

        return new Scope(() => servingLoader--);
    }

    /// <summary>The loader stops that came while nobody served them; their threads are still stopped.</summary>
    private List<LoaderStop> TakeHeldLoaderStops()
    {
        var taken = heldLoaderStops.ToList();
        heldLoaderStops.Clear();
        return taken;
    }

    /// <summary>
    /// Lets a thread go on from its loader stop: from r_brk by returning to its caller, from a
    /// munmap by running it now. <paramref name="watchUnmaps"/> makes its next munmap calls stop
    /// too (between RT_DELETE and the end of the dlclose).
    /// </summary>
    public void ContinueFromLoader(int tid, bool? watchUnmaps = null)
    {
        var thread = Get(tid);
        thread.HeldByLoader = false;
        thread.WatchesUnmaps = watchUnmaps ?? thread.WatchesUnmaps;
        if (thread.AtLoaderBreakpoint)
        {
            // The `ret` the int3 replaced.
            var regs = ReadRegisters(tid);
            regs.rip = Memory.ReadUInt64(regs.rsp);
            regs.rsp += 8;
            WriteRegisters(tid, regs);
            thread.AtLoaderBreakpoint = false;
        }

        if (thread.StoppedForGraft)
        {
            // A Stop was waiting for this thread when the loader stop came (a handler served
            // inline from AwaitStop): the thread stays stopped, as that Stop returns it.
            thread.StoppedForGraft = false;
            return;
        }

        Resume(tid);
    }

    /// <summary>True if the stop was an int3 on r_brk; the thread then waits as a loader stop.</summary>
    private bool TryHandleLoaderTrap(TracedThread thread, UserRegs regs)
    {
        if (loaderBreakpoint == 0 || regs.rip - 1 != loaderBreakpoint)
        {
            return false;
        }

        regs.rip = loaderBreakpoint;
        WriteRegisters(thread.Tid, regs);
        thread.AtLoaderBreakpoint = true;
        if (!loaderArmed)
        {
            // Taken just before the int3 went away: return for the loader and carry on.
            Hold(thread);
            ContinueFromLoader(thread.Tid);
            return true;
        }

        Hold(thread);
        Raise(new LoaderStop(thread.Tid, LoaderStopKind.DebugState, 0, 0));
        return true;
    }

    /// <summary>
    /// The loader's own event inside code Graft runs (the dlopen of a patch, a callback that loads
    /// a library): not a fault, and not a stop to hold, since the calling thread is Graft's to
    /// finish. Its `ret` is emulated and the code goes on; what it loaded is caught up with at the
    /// next consistent moment.
    /// </summary>
    private bool TryStepOverLoaderTrap(TracedThread thread, WaitStatus status, int request)
    {
        if (loaderBreakpoint == 0 || !status.IsSignalDeliveryStop || status.StopSignal != Signals.SIGTRAP)
        {
            return false;
        }

        var regs = ReadRegisters(thread.Tid);
        if (regs.rip - 1 != loaderBreakpoint || SignalCode(thread.Tid) != Ptrace.SI_KERNEL)
        {
            return false;
        }

        regs.rip = Memory.ReadUInt64(regs.rsp);
        regs.rsp += 8;
        WriteRegisters(thread.Tid, regs);
        Restart(thread, request, 0);
        return true;
    }

    /// <summary>
    /// A syscall-stop: of a thread watching unmaps, or of the owner of a mutex Graft's call
    /// waits for (<see cref="TryParkForHandoff"/>). A munmap of a watched object is skipped once,
    /// so that the thread waits, before it, as if stopped anywhere else: at the `syscall`
    /// instruction with rax = the number, ready to run it again when continued.
    /// </summary>
    private void HandleSyscallStop(TracedThread thread)
    {
        var regs = ReadRegisters(thread.Tid);
        if (thread.SkippedUnmap is { } skipped)
        {
            // The exit of the skipped munmap: back to just before the instruction.
            skipped.rip -= 2;
            skipped.rax = (ulong)Syscalls.SYS_munmap;
            skipped.orig_rax = ulong.MaxValue;
            WriteRegisters(thread.Tid, skipped);
            thread.SkippedUnmap = null;
            thread.ReleasedUnmap = (skipped.rdi, skipped.rsi);
            Hold(thread);
            Raise(new LoaderStop(thread.Tid, LoaderStopKind.Unmap, skipped.rdi, skipped.rsi));
            return;
        }

        if (TryParkForHandoff(thread, regs))
        {
            return;
        }

        var isUnmapEntry = regs.rax == SyscallEntryRax && regs.orig_rax == (ulong)Syscalls.SYS_munmap;
        if (isUnmapEntry && thread.ReleasedUnmap != (regs.rdi, regs.rsi) && IsWatchedUnmap(regs.rdi, regs.rsi))
        {
            thread.SkippedUnmap = regs;
            var skip = regs;
            skip.orig_rax = ulong.MaxValue;
            WriteRegisters(thread.Tid, skip);
        }
        else if (isUnmapEntry)
        {
            thread.ReleasedUnmap = null;
        }

        Restart(thread, ContinueRequest(thread), 0);
    }

    private void Hold(TracedThread thread)
    {
        thread.StoppedForGraft = thread.WantStopped;
        thread.WantStopped = true;
        thread.HeldByLoader = true;
        MarkStopped(thread);
    }

    private void Raise(LoaderStop stop)
    {
        if (servingLoader > 0 && !inLoaderHandler && LoaderStopped is not null)
        {
            Dispatch(stop);
        }
        else
        {
            heldLoaderStops.Enqueue(stop);
        }
    }

    private void Dispatch(LoaderStop stop)
    {
        inLoaderHandler = true;
        try
        {
            LoaderStopped!(stop);
        }
        finally
        {
            inLoaderHandler = false;
        }
    }

    /// <summary>How a thread goes on running: with syscall-stops while it watches unmaps or a mutex handoff.</summary>
    private static int ContinueRequest(TracedThread thread) =>
        thread.WatchesUnmaps || thread.HandoffMutex != 0 ? Ptrace.PTRACE_SYSCALL : Ptrace.PTRACE_CONT;

    private sealed class Scope(Action end) : IDisposable
    {
        public void Dispose() => end();
    }
}

/// <summary>Where a thread stopped in the dynamic linker: at r_brk (read r_state to know why), or before a munmap.</summary>
public enum LoaderStopKind
{
    DebugState,
    Unmap,
}

/// <summary>A thread stopped in the dynamic linker, holding its lock, until Graft lets it go on.</summary>
public sealed record LoaderStop(int Tid, LoaderStopKind Kind, ulong UnmapStart, ulong UnmapLength);
