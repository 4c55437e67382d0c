using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Policies;
using Graft.Linux.Tracing;
using Graft.Linux.Unwinding;

namespace Graft.Patching.Target;

/// <summary>
/// A seized process as the operations see it (the process layer): its memory, its objects, its
/// threads (stopped one at a time, or all at once), their stacks, and typed system calls and
/// calls run on a stopped thread. The ptrace mechanism (<see cref="Linux.Tracing.Tracee"/>)
/// stays behind it; the policies it runs (the mutex handoff, graftd's loader watch) are
/// installed here.
/// </summary>
internal sealed class TargetProcess : IDisposable
{
    /// <summary>How often <see cref="Settle"/> reads the threads' run times.</summary>
    private static readonly TimeSpan QuietStep = TimeSpan.FromMicroseconds(2500);

    /// <summary>How many steps (10 ms) a thread that has not run since the operation must sleep through to count as settled.</summary>
    private const int SleeperSteps = 4;

    private readonly Tracee tracee;
    private readonly SleepingThreadStacks sleepingStacks;
    private int? agent;
    private readonly SortedSet<int> callersBesidesMain = [];

    // Once none is found, none can come: every vfork from then on is of a thread seized with PTRACE_O_TRACEVFORK.
    private bool untracedVforkChildrenGone;

    private TargetProcess(Tracee tracee)
    {
        this.tracee = tracee;
        sleepingStacks = new SleepingThreadStacks(tracee.Pid);
        Syscalls = new RemoteSyscalls(tracee);
        Modules = ModuleMap.Read(tracee.Pid, tracee.Memory);
        Unwinder = new StackUnwinder(Modules, tracee.Memory);
        tracee.DescribeFault = DescribeFault;
        MutexHandoff.Install(tracee);
        AdoptAgent(AgentThread.Find(this));
        if (agent is { } found)
        {
            Urgency.LowerLeftOver(found);
        }
    }

    public int Pid => tracee.Pid;

    public RemoteMemory Memory => tracee.Memory;

    public RemoteSyscalls Syscalls { get; }

    /// <summary>The live threads, vfork children included (<see cref="IsVforkChild"/>).</summary>
    public IReadOnlyCollection<int> ThreadIds => tracee.ThreadIds;

    /// <summary>Graft's agent thread in the process (<see cref="AgentThread"/>), while it has one.</summary>
    public int? Agent => agent is { } tid && tracee.ThreadIds.Contains(tid) ? tid : null;

    /// <summary>A thread of the process died of a fatal signal while graft was attached.</summary>
    public bool HasDied => tracee.HasDied;

    /// <summary>Throws what ended the process, if graft noted it: a fatal signal and where it struck, or a kill.</summary>
    public void ThrowIfDied() => tracee.ThrowIfDied();

    public ModuleMap Modules { get; private set; }

    public StackUnwinder Unwinder { get; private set; }

    /// <summary>
    /// Whether patches may touch a mapped object (the kernel's mod->klp_alive): with graftd
    /// watching, an object the loader is still mapping is left to the library-coming handler,
    /// which applies every patch to it in order. Without a watcher every mapped object is.
    /// </summary>
    public Func<LoadedModule, bool> IsAlive { get; set; } = _ => true;

    /// <summary>
    /// Whether a thread had a seccomp filter when <see cref="SeccompCheck"/> last looked; null before it has. Threads
    /// switch themselves only in a process with none: the self-switch makes a system call of its own (sigaltstack).
    /// </summary>
    public bool? UnderSeccompFilter { get; set; }

    /// <summary>graftd's watch of the dynamic linker, if it has one: its stops are served only within <see cref="LoaderWatch.Serve"/>.</summary>
    public LoaderWatch? Loader { get; set; }

    public static TargetProcess Attach(int pid)
    {
        Tracee tracee;
        try
        {
            tracee = Tracee.Seize(pid);
        }
        catch (TargetGoneException e)
        {
            throw new GraftException(GraftFailure.TargetGone, e.Message, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new GraftException(GraftFailure.NotPermitted, e.Message, e);
        }

        try
        {
            return new TargetProcess(tracee);
        }
        catch
        {
            tracee.Dispose();
            throw;
        }
    }

    /// <summary>Reads the memory map again, after Graft mapped or loaded something.</summary>
    public void Refresh()
    {
        var modules = ModuleMap.Read(Pid, Memory, Modules);
        if (modules != Modules)
        {
            Modules = modules;
            Unwinder = new StackUnwinder(Modules, Memory);
        }
    }

    /// <summary>
    /// Parses every object's unwind tables now, while the threads run, rather than on first
    /// use inside a stop-the-world window.
    /// </summary>
    public void PrepareUnwinding()
    {
        foreach (var module in Modules.Modules)
        {
            try
            {
                _ = module.Elf.EhFrame?.Entries.Count;
            }
            catch (Elf.ElfFormatException)
            {
                // The unwinder reports such an object as unreliable when a stack reaches it.
            }
        }
    }

    /// <summary>The stack of a stopped thread.</summary>
    public ThreadStack Stack(int tid) => Stack(tid, tracee.GetRegisters(tid));

    /// <summary>The stack of a stopped thread whose registers the caller has already read.</summary>
    public ThreadStack Stack(int tid, UserRegs registers) => Unwinder.Unwind(tid, registers);

    /// <summary>
    /// The stack of a thread asleep in a system call, read without stopping it; null when only
    /// a stop can tell (<see cref="SleepingThreadStacks"/>). Only for a question whose answer
    /// holds once it is true: the thread may wake the moment after.
    /// </summary>
    public ThreadStack? StackIfAsleep(int tid) => sleepingStacks.TryRead(tid, Unwinder);

    /// <summary>Whether a word of the stack at <paramref name="stackPointer"/> matches: for a stack the unwinder could not follow to its end (<see cref="StackWords"/>).</summary>
    public bool StackHoldsAny(ulong stackPointer, Func<ulong, bool> match) => StackWords.Any(Pid, Memory, stackPointer, match);

    public UserRegs Registers(int tid) => tracee.GetRegisters(tid);

    public void SetRegisters(int tid, in UserRegs registers) => tracee.SetRegisters(tid, registers);

    /// <summary>Takes the thread as the agent (or none): its stops count as Graft's own, not the program's.</summary>
    public void AdoptAgent(int? tid)
    {
        agent = tid;
        if (tid is { } own)
        {
            tracee.MarkGraftsOwn(own);
        }
    }

    /// <summary>Sets the signal mask of a stopped thread.</summary>
    public void SetSignalMask(int tid, ulong mask) => tracee.SetSignalMask(tid, mask);

    /// <summary>Stops one thread while every other keeps running; null if it exited meanwhile. The stop counts under <paramref name="purpose"/> (<see cref="StopPurposes"/>).</summary>
    public StoppedThread? TryStop(int tid, string purpose) => tracee.Stop(tid, purpose) ? new StoppedThread(tid, tracee) : null;

    /// <summary>A thread seen stopped before it ran its first instruction: its stack is empty.</summary>
    public bool IsUnstarted(int tid) => tracee.IsUnstarted(tid);

    /// <summary>A child made by vfork, which shares the memory but is not the process: graft's calls never run on it.</summary>
    public bool IsVforkChild(int tid) => tracee.IsVforkChild(tid);

    /// <summary>A thread created by code Graft ran in the process (the agent's pthread_create), or taken as the agent.</summary>
    public bool IsGraftsOwn(int tid) => tracee.IsGraftsOwn(tid);

    public bool IsJobControlStopped() => tracee.IsJobControlStopped();

    /// <summary>Serves the running threads for <paramref name="duration"/>: signals passed on, graft's traps and events handled.</summary>
    public void Pump(TimeSpan duration) => tracee.Pump(duration);

    /// <summary>
    /// Serves the threads after an operation for up to <paramref name="longest"/>, so that a
    /// fatal signal the new code causes at once is caught before graft reports success. Ends
    /// early once every thread has settled, as its run time (schedstat), read every
    /// <see cref="QuietStep"/>, shows: it ran and then went back to sleep for a whole step (it
    /// woke into the new code and is done with what woke it), or it slept through
    /// <see cref="SleeperSteps"/> steps (it runs none of the new code while graft waits). A
    /// thread stays settled when it wakes again: threads that wake often and out of step with
    /// each other seldom all sleep through the same step. A thread that never stops running
    /// keeps graft the whole time.
    /// </summary>
    public void Settle(TimeSpan longest)
    {
        var deadline = Deadline.After(longest);
        var ran = new HashSet<int>();
        var quietSteps = new Dictionary<int, int>();
        var settled = new HashSet<int>();
        var before = RunTimes();
        while (deadline.Allows(QuietStep))
        {
            tracee.Pump(QuietStep);
            var now = RunTimes();
            foreach (var (tid, time) in now)
            {
                if (!before.TryGetValue(tid, out var earlier) || earlier != time)
                {
                    ran.Add(tid);
                    quietSteps[tid] = 0;
                }
                else if ((quietSteps[tid] = quietSteps.GetValueOrDefault(tid) + 1) >= (ran.Contains(tid) ? 1 : SleeperSteps))
                {
                    settled.Add(tid);
                }
            }

            if (now.Keys.All(settled.Contains))
            {
                return;
            }

            before = now;
        }

        tracee.Pump(deadline.Left);
    }

    /// <summary>Calls <paramref name="function"/> on a stopped thread, returning through <paramref name="trampoline"/>.</summary>
    public ulong Call(int tid, ulong trampoline, ulong function, TimeSpan timeout, params ulong[] args) =>
        tracee.InjectCall(NoteCaller(tid), trampoline, function, timeout, runsOnIfLate: false, args);

    /// <summary>
    /// Calls <paramref name="function"/> as <see cref="Call"/> does; one still running at the
    /// timeout is left to end on its own (<see cref="Linux.Tracing.InjectionException.RunsOn"/>).
    /// </summary>
    public ulong CallRunningOnIfLate(int tid, ulong trampoline, ulong function, TimeSpan timeout, params ulong[] args) =>
        tracee.InjectCall(NoteCaller(tid), trampoline, function, timeout, runsOnIfLate: true, args);

    /// <summary>The threads besides the main thread and the agent that graft's function calls ran on (<see cref="ArenaWitness"/>).</summary>
    public IReadOnlyCollection<int> CallersBesidesMain => callersBesidesMain;

    private int NoteCaller(int tid)
    {
        if (tid != Pid && tid != Agent)
        {
            callersBesidesMain.Add(tid);
        }

        return tid;
    }

    public IReadOnlyList<Linux.Seccomp.SeccompFilter> SeccompFilters(int tid) => tracee.GetSeccompFilters(tid);

    /// <summary>What stopping threads has cost the process since <see cref="ResetStopCost"/>; readable after detaching too.</summary>
    public StopCost StopCost => new(tracee.LongestStop, tracee.LongestStopKind, tracee.MostStoppedAtOnce, tracee.TrapsHandled, tracee.StopKindCosts);

    public void ResetStopCost() => tracee.ResetStopStatistics();

    /// <summary>Every thread stopped at once (stop-world), until <see cref="ResumeAll"/>.</summary>
    public void StopAll(string purpose) => tracee.StopAll(purpose);

    public void ResumeAll() => tracee.ResumeAll();

    /// <summary>A thread that reaches <paramref name="address"/> (graft's int3 there) goes on at <paramref name="continueAt"/>.</summary>
    public void HandleTrapsAt(ulong address, ulong continueAt) => tracee.HandleTrapsAt(address, continueAt);

    /// <summary>Hooks of a transition in flight: a thread created (creator, child), a process forked (forking thread, child).</summary>
    public void OnNewThreads(Action<int, int>? threadCreated, Action<int, int>? processForked)
    {
        tracee.ThreadCreated = threadCreated;
        tracee.ProcessForked = processForked;
    }

    /// <summary>graftd's watch of the dynamic linker, to be started and then set as <see cref="Loader"/>.</summary>
    public LoaderWatch WatchLoader(Action<LoaderStop> stopped, Func<ulong, ulong, bool> isWatchedUnmap) =>
        new(tracee, stopped, isWatchedUnmap);

    /// <summary>
    /// Waits until no vfork child of a thread of the process shares its memory untraced: one
    /// made before graft attached, which PTRACE_O_TRACEVFORK did not follow. It runs the
    /// process's code, and an int3 graft writes would kill it (VforkChildTests saw it die). A
    /// vfork child calls execve or exits soon: its parent is blocked until it does.
    /// </summary>
    public void AwaitUntracedVforkChildren(TimeSpan bound)
    {
        var deadline = Deadline.After(bound);
        while (!untracedVforkChildrenGone)
        {
            var children = VforkChildren.SharingMemory(Pid, tracee.ThreadIds.ToList(), tracee.IsVforkChild);
            if (children.Count == 0)
            {
                untracedVforkChildrenGone = true;
                return;
            }

            if (deadline.HasPassed)
            {
                throw new GraftException(GraftFailure.Timeout,
                    $"process {children[0]}, a vfork child of process {Pid} from before graft attached, still ran in its memory after {bound.TotalSeconds} s");
            }

            tracee.Pump(TimeSpan.FromMilliseconds(1));
        }
    }

    /// <summary>Each thread's time on a CPU so far; graft's agent, which only waits for graft, left out.</summary>
    private Dictionary<int, ulong?> RunTimes() =>
        tracee.ThreadIds.Where(tid => tid != agent).ToDictionary(tid => tid, tid => TaskFiles.RunTime(Pid, tid));

    public void Dispose()
    {
        sleepingStacks.Dispose();
        tracee.Dispose();
    }

    /// <summary>Where a thread that got a fatal signal stood: in a patch's code, in a graft slot, or in the program.</summary>
    private string DescribeFault(ulong pc)
    {
        var modules = ModuleMap.Read(Pid, Memory, Modules);
        var state = new StateStore(modules, Memory).Read();
        var module = modules.FindByAddress(pc);
        var symbol = module is null ? "" : $" ({module.Describe(pc)})";
        if (state.Patches.FirstOrDefault(p => pc >= p.ImageStart && pc < p.ImageEnd) is { } patch)
        {
            return $"0x{pc:x} in the code of patch '{patch.Name}'{symbol}";
        }

        return Redirect.Redirects.InSlotPages(state.SlotPages, pc)
            ? $"0x{pc:x} in a graft slot"
            : $"0x{pc:x} in the program{symbol}";
    }
}
