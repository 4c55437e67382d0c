using Graft.Linux.Interop;
using Graft.Linux.Unwinding;

namespace Graft.Patching.Target;

/// <summary>
/// Picks the thread that runs Graft's injected calls (dlopen, dlclose): Graft's agent where the
/// process has one (<see cref="AgentThread"/>), else a thread of the program. The call takes malloc's
/// and the loader's locks, so the thread must not be holding any: its stack must show it either
/// running the program's own code, or blocked in one of a few C library calls that hold no lock
/// while they wait (or in stdio's read of a stream, whose lock graft's calls never take), with the
/// C library appearing elsewhere only as the thread's startup frames.
/// Other threads keep running meanwhile, so a lock they hold is released in the normal way.
/// </summary>
internal static class CallerThread
{
    // Outermost frames that belong to thread startup (start_thread, clone3, __libc_start_main ...).
    private const int StartupFrames = 3;

    // How long graft waits for a main thread that is busy in the C library (a printf, a memcpy)
    // before it takes another thread, and how often it looks again meanwhile.
    private static readonly TimeSpan MainThreadPatience = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MainThreadRetry = TimeSpan.FromMilliseconds(1);

    private static readonly HashSet<string> BlockingCalls =
    [
        "read", "write", "pread64", "pwrite64", "readv", "writev", "nanosleep", "clock_nanosleep", "usleep", "sleep",
        "accept", "accept4", "recv", "recvfrom", "recvmsg", "send", "sendto", "sendmsg", "connect",
        "poll", "ppoll", "select", "pselect", "epoll_wait", "epoll_pwait", "pause", "sigsuspend",
        "sigwaitinfo", "sigtimedwait", "wait", "waitpid", "wait4", "waitid",
    ];

    // stdio's input functions, called by the program: blocked in their read(2), a thread holds only the stream's own
    // lock (recursive, and taken by nothing graft's calls do; _IO_file_underflow releases stdout's before it reads).
    private static readonly HashSet<string> StdioReads =
    [
        "fgets", "IO_fgets", "fgets_unlocked", "getline", "getdelim", "fread", "IO_fread", "fread_unlocked",
        "getc", "IO_getc", "fgetc", "getchar", "getc_unlocked", "fgetc_unlocked", "getchar_unlocked",
    ];

    /// <summary>
    /// Stops and returns a thread fit to run calls; every other thread keeps running. Its stop,
    /// and those of the threads tried before it, count under <paramref name="purpose"/>.
    /// </summary>
    public static StoppedThread Acquire(TargetProcess target, Deadline deadline, string purpose) =>
        TryAgent(target, purpose) ?? AcquireProgramThread(target, deadline, purpose);

    /// <summary>The agent, stopped where it waits; null if the process has none, or it is not there.</summary>
    private static StoppedThread? TryAgent(TargetProcess target, string purpose)
    {
        if (target.Agent is not { } tid || target.TryStop(tid, purpose) is not { } stopped)
        {
            return null;
        }

        if (AgentThread.IsParked(target, tid))
        {
            return stopped;
        }

        stopped.Dispose();
        return null;
    }

    private static StoppedThread AcquireProgramThread(TargetProcess target, Deadline deadline, string purpose)
    {
        // Unfit names the C library's functions on a stack: index them while every thread runs.
        foreach (var module in target.Modules.Modules.Where(SystemLibraries.Contains))
        {
            module.PrepareExportedFunctions();
        }

        var reasons = new List<(int Tid, UnfitStack Why)>();
        var patienceEnds = DateTime.UtcNow + deadline.Bound(MainThreadPatience);
        while (true)
        {
            reasons.Clear();
            // The main thread first, and while it is only busy for a moment, it alone: its
            // allocations go to malloc's main arena. On a thread that never allocated, the
            // loader's mallocs (and the frees of a dlclose, through the thread's tcache) would
            // create that thread's arena, 64 MiB of address space glibc never gives back, and a
            // refused apply could not leave the process as it found it.
            if (TryFit(target, target.Pid, purpose, reasons, out var mainAsleepOnALock) is { } main)
            {
                return main;
            }

            if (mainAsleepOnALock is false && DateTime.UtcNow < patienceEnds)
            {
                target.Pump(MainThreadRetry);
                continue;
            }

            // A vfork child shares the memory, not the process: graft's calls are never its.
            foreach (var tid in target.ThreadIds.Where(t => t != target.Pid && !target.IsVforkChild(t) && t != target.Agent).ToList())
            {
                if (TryFit(target, tid, purpose, reasons, out _) is { } stopped)
                {
                    return stopped;
                }
            }

            deadline.ThrowIfInterrupted();
            if (deadline.HasPassed)
            {
                throw new GraftException(GraftFailure.Timeout,
                    $"no thread of process {target.Pid} was in a state where graft can run code before the timeout: {string.Join("; ", reasons.Select(r => $"thread {r.Tid} {r.Why.Describe()}"))}");
            }

            target.Pump(TimeSpan.FromMilliseconds(20));
        }
    }

    /// <summary>
    /// The thread stopped, if it is fit to run calls; else why not, added to <paramref name="reasons"/>.
    /// <paramref name="asleepOnALock"/> says, of a thread that was stopped and found unfit, whether it
    /// waits in a futex (pthread_join, a mutex, a condition), which may last: null if it could not be stopped.
    /// </summary>
    private static StoppedThread? TryFit(TargetProcess target, int tid, string purpose, List<(int Tid, UnfitStack Why)> reasons, out bool? asleepOnALock)
    {
        asleepOnALock = null;
        if (target.TryStop(tid, purpose) is not { } stopped)
        {
            return null;
        }

        if (Unfit(target.Stack(tid)) is not { } unfit)
        {
            return stopped;
        }

        // Described only if graft gives up (naming a frame may read a stripped object's debug file).
        reasons.Add((tid, unfit));
        asleepOnALock = (long)target.Registers(tid).orig_rax == Syscalls.SYS_futex;
        stopped.Dispose();
        return null;
    }

    /// <summary>glibc's internal aliases (__nanosleep, __libc_read) name the same functions as the public ones.</summary>
    private static string PublicName(string name)
    {
        var trimmed = name.TrimStart('_');
        return trimmed.StartsWith("libc_", StringComparison.Ordinal) ? trimmed["libc_".Length..] : trimmed;
    }

    /// <summary>
    /// Why the thread cannot run calls, or null if it can. The C library's frames are named by
    /// its exported functions (every call in <see cref="BlockingCalls"/> is one): a frame in a
    /// function it does not export is unfit, whatever its name.
    /// </summary>
    public static UnfitStack? Unfit(ThreadStack stack)
    {
        if (!stack.IsReliable)
        {
            return new UnfitStack($"has an unreliable stack ({stack.UnreliableReason})", null);
        }

        var frames = stack.Frames;
        if (frames.Skip(1).Any(f => f.IsExact))
        {
            return new UnfitStack("is running a signal handler", null);
        }

        var innermost = frames.TakeWhile(f => SystemLibraries.Contains(f.Module)).ToList();
        if (!IsBlockedInStdioRead(innermost))
        {
            foreach (var frame in innermost)
            {
                if (ExportedName(frame) is not { } name || !BlockingCalls.Contains(name))
                {
                    return new UnfitStack("is inside the C library or the dynamic linker", frame);
                }
            }
        }

        var outer = frames.Skip(innermost.Count).SkipLast(StartupFrames).FirstOrDefault(f => SystemLibraries.Contains(f.Module));
        return outer is null ? null : new UnfitStack("has the C library in the middle of its stack", outer);
    }

    /// <summary>
    /// Whether the C library's frames are read(2), called by stdio's own functions (underflow, uflow), called by one of
    /// its input functions: a program blocked reading its standard input with fgets or getline.
    /// </summary>
    private static bool IsBlockedInStdioRead(List<StackFrame> libraryFrames) =>
        libraryFrames.Count >= 2
        && libraryFrames.All(f => f.Module!.FileName.StartsWith("libc.so", StringComparison.Ordinal))
        && ExportedName(libraryFrames[0]) == "read"
        && ExportedName(libraryFrames[^1]) is { } entry && StdioReads.Contains(entry);

    /// <summary>The C library's exported function the frame is in, by its public name; null for one it does not export.</summary>
    private static string? ExportedName(StackFrame frame) =>
        frame.Module!.ExportedFunctionAt(frame.CallSite)?.Name is { } name ? PublicName(name) : null;

    /// <summary>What makes a stack unfit, and the frame that does.</summary>
    public sealed record UnfitStack(string What, StackFrame? Frame)
    {
        public string Describe() => Frame is null ? What : $"{What} ({Frame})";
    }
}
