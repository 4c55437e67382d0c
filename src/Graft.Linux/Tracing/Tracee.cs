using Graft.Linux.Inspection;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// A process all of whose threads are attached with PTRACE_SEIZE. Attaching does not stop
/// anything; threads are stopped and resumed one by one or all together. Every method must be
/// called from the OS thread that seized the process (<see cref="PtraceThread"/>).
/// </summary>
public sealed partial class Tracee : IDisposable
{
    // Forks are traced so that a child copied while a transition is in flight can be settled
    // before it runs; without an observer the child is let go at once. A vfork child shares the
    // process's memory until it calls execve or exits, so it is held like a thread till then
    // (exec events tell when); an exec of the process itself ends what Graft knew of it.
    private const int SeizeOptions = Ptrace.PTRACE_O_TRACECLONE | Ptrace.PTRACE_O_TRACEFORK | Ptrace.PTRACE_O_TRACEVFORK
        | Ptrace.PTRACE_O_TRACEEXEC | Ptrace.PTRACE_O_TRACESYSGOOD;

    private readonly Dictionary<int, TracedThread> threads = [];
    private readonly int ownerThread = Environment.CurrentManagedThreadId;
    private readonly ThreadRegisters registers;
    private readonly StopStatistics statistics;
    private readonly InjectedCode injected;
    private readonly TargetDeath death;
    private readonly TracerEvents events = new();
    private bool disposed;
    private bool disposing;

    private Tracee(int pid)
    {
        Pid = pid;
        Memory = new RemoteMemory(pid);
        registers = new ThreadRegisters(pid, threads);
        statistics = new StopStatistics(threads.Values);
        injected = new InjectedCode(this, registers);
        death = new TargetDeath(pid, registers);
    }

    public int Pid { get; }

    public RemoteMemory Memory { get; }

    public IReadOnlyCollection<int> ThreadIds => threads.Keys;

    /// <summary>A vfork child held while it shares the process's memory: it runs the process's code, but it is not one of its threads.</summary>
    public bool IsVforkChild(int tid) => threads.TryGetValue(tid, out var thread) && thread.IsVforkChild;

    public bool IsStopped(int tid) => Get(tid).IsStopped;

    /// <summary>Whether the thread is Graft's own (<see cref="TracedThread.IsGraftsOwn"/>): marked, or created by code Graft ran.</summary>
    public bool IsGraftsOwn(int tid) => threads.TryGetValue(tid, out var thread) && thread.IsGraftsOwn;

    /// <summary>Marks the thread as Graft's own (<see cref="TracedThread.IsGraftsOwn"/>): its stops count apart from the program's.</summary>
    public void MarkGraftsOwn(int tid)
    {
        if (threads.TryGetValue(tid, out var thread))
        {
            thread.IsGraftsOwn = true;
        }
    }

    /// <summary>Attaches to every thread of the process, including threads created while attaching.</summary>
    public static Tracee Seize(int pid)
    {
        if (!Directory.Exists($"/proc/{pid}/task"))
        {
            throw new TargetGoneException($"no process with pid {pid}");
        }

        if (pid == Environment.ProcessId)
        {
            throw new InvalidOperationException("graft cannot patch its own process");
        }

        var tracee = new Tracee(pid);
        try
        {
            tracee.SeizeAllThreads();
        }
        catch
        {
            tracee.Dispose();
            throw;
        }

        return tracee;
    }

    private void SeizeAllThreads()
    {
        // A thread created by a thread we have not seized yet is not attached automatically,
        // so list the tasks again until a pass finds nothing new.
        for (var pass = 0; ; pass++)
        {
            var added = false;
            foreach (var tid in ListTasks())
            {
                if (!threads.ContainsKey(tid) && TrySeize(tid))
                {
                    added = true;
                }
            }

            if (!added)
            {
                break;
            }

            if (pass > 10_000)
            {
                throw new InvalidOperationException($"process {Pid} creates threads faster than graft can attach to them");
            }
        }

        if (threads.Count == 0)
        {
            throw new TargetGoneException($"process {Pid} exited while graft attached to it");
        }
    }

    private bool TrySeize(int tid)
    {
        // Read before seizing: a seized thread shows as traced ('t') whatever stopped it. A
        // zombie leader (main called pthread_exit) would never report a stop.
        var state = ProcDirectory.State($"/proc/{Pid}/task/{tid}/stat");
        if (state is 'Z' or 'X')
        {
            return false;
        }

        var stopped = state == 'T';
        if (Ptrace.ptrace(Ptrace.PTRACE_SEIZE, tid, 0, SeizeOptions) == 0)
        {
            threads[tid] = new TracedThread(tid) { GroupStopped = stopped };
            return true;
        }

        var error = ErrnoException.FromLastError($"ptrace(PTRACE_SEIZE, {tid})");
        if (error.Errno == Errno.ESRCH || (error.Errno == Errno.EPERM && IsExiting(tid)))
        {
            // Gone, or a zombie the kernel no longer lets anyone attach to.
            return false;
        }

        if (error.Errno == Errno.EPERM && TracerOf(tid) == Threads.gettid())
        {
            // A clone of a thread we already hold: the kernel attached it for us and will
            // report its first event-stop. (TracerPid names the tracing thread, not its process.)
            threads[tid] = new TracedThread(tid) { StopEventPending = true, HasRun = false };
            return true;
        }

        if (error.Errno == Errno.EPERM)
        {
            var tracer = TracerOf(tid);
            if (tracer > 0)
            {
                var (process, command) = TracerName(tracer);
                throw new AlreadyTracedException($"process {Pid} is already being traced by {process}{(command is null ? "" : $" ({command})")}; only one tracer at a time", command);
            }

            throw new UnauthorizedAccessException($"not permitted to trace process {Pid}: run graft as root or as the process's owner (see /proc/sys/kernel/yama/ptrace_scope)");
        }

        throw error;
    }

    private IEnumerable<int> ListTasks()
    {
        string[] entries;
        try
        {
            entries = Directory.GetDirectories($"/proc/{Pid}/task");
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }

        return entries.Select(e => int.TryParse(Path.GetFileName(e), out var tid) ? tid : 0).Where(tid => tid > 0);
    }

    /// <summary>Says where a pc lies (patch code, a graft slot, the program), for the report of a fatal signal (<see cref="TargetDeath"/>).</summary>
    public Func<ulong, string>? DescribeFault
    {
        get => death.DescribeFault;
        set => death.DescribeFault = value;
    }

    /// <summary>The process died while Graft was attached (a fatal signal, or killed): nothing is left to roll back.</summary>
    public bool HasDied => death.Cause is not null;

    /// <summary>Throws what ended the process, if it ended while Graft was attached.</summary>
    public void ThrowIfDied()
    {
        if (death.Cause is { } cause && !disposing)
        {
            throw cause;
        }
    }

    /// <summary>
    /// True if the process is stopped by job control (SIGSTOP, Ctrl-Z). Pending events are
    /// taken first: a group-stop, or its end after SIGCONT, reaches Graft as an event-stop.
    /// </summary>
    public bool IsJobControlStopped()
    {
        CheckOwner();
        ServeRunning();
        return threads.Values.Any(t => t.GroupStopped);
    }

    private bool IsExiting(int tid)
    {
        try
        {
            var state = File.ReadLines($"/proc/{Pid}/task/{tid}/status").FirstOrDefault(l => l.StartsWith("State:", StringComparison.Ordinal));
            return state is null || state.Contains('Z') || state.Contains('X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>TracerPid names the tracing thread; say which program that is (another graft, gdb ...): its process and command.</summary>
    private static (string Process, string? Command) TracerName(int tracerThread)
    {
        try
        {
            var process = File.ReadLines($"/proc/{tracerThread}/status").First(l => l.StartsWith("Tgid:", StringComparison.Ordinal))["Tgid:".Length..].Trim();
            return ($"process {process}", File.ReadAllText($"/proc/{process}/comm").Trim());
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            return ($"thread {tracerThread}", null);
        }
    }

    private int TracerOf(int tid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{Pid}/task/{tid}/status").FirstOrDefault(l => l.StartsWith("TracerPid:", StringComparison.Ordinal));
            return line is not null && int.TryParse(line["TracerPid:".Length..].Trim(), out var tracer) ? tracer : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Whether the thread is still in the table (attached and not found gone).</summary>
    internal bool IsTraced(int tid) => threads.ContainsKey(tid);

    internal TracedThread Get(int tid)
    {
        CheckOwner();
        return threads.TryGetValue(tid, out var thread)
            ? thread
            : throw new TargetGoneException($"thread {tid} of process {Pid} is gone");
    }

    private void CheckOwner()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (Environment.CurrentManagedThreadId != ownerThread)
        {
            throw new InvalidOperationException("ptrace requests must come from the thread that attached (use PtraceThread)");
        }
    }

    /// <summary>
    /// Lets the process go without stopping a thread that runs its own code: those stay attached
    /// until the tracing OS thread exits, and the kernel then detaches each of them as it is,
    /// running or asleep (exit_ptrace; <see cref="PtraceThread"/> waits for that exit). Only a
    /// thread Graft holds stopped, or one that must be stopped to be let go safely
    /// (<see cref="NeedsStopToDetach"/>), is detached here, with PTRACE_DETACH.
    /// </summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        // What ended the process has been reported (or is on its way up); detaching must not throw it again.
        disposing = true;

        // Stops already reported are served first: a thread in a stop the kernel reported but
        // Graft did not take would be woken by exit_ptrace with its signal, a trap included.
        ServeRunningForDetach();
        foreach (var thread in threads.Values.ToList())
        {
            if ((thread.IsStopped || NeedsStopToDetach(thread)) && StopForDetach(thread.Tid))
            {
                // Signals the kernel still holds for the thread are delivered normally once it runs untraced.
                Ptrace.ptrace(Ptrace.PTRACE_DETACH, thread.Tid, 0, 0);
                statistics.Running(thread);
            }

            threads.Remove(thread.Tid);
        }

        // Clones reported while stopping the few above stay attached for exit_ptrace too.
        threads.Clear();
        Memory.Dispose();
        events.Dispose();
        disposed = true;
    }

    /// <summary>
    /// A thread that runs on with syscall-stops (a policy follows it) would stop at its next
    /// system call for a tracer that is going; one that executed an int3 of Graft's just before
    /// it was overwritten has the SIGTRAP queued that Graft must serve: exit_ptrace would deliver
    /// it and kill the process. The trap is queued in the thread's own context the moment it
    /// executes the int3, and the settle time after the last code write leaves it time to be
    /// reported: this check pairs with <c>CodeWriter</c>'s membarrier after each write.
    /// </summary>
    private bool NeedsStopToDetach(TracedThread thread) =>
        ContinueRequest(thread) == Ptrace.PTRACE_SYSCALL || (MayTrap && HasSigtrapPending(thread.Tid));

    private void ServeRunningForDetach()
    {
        try
        {
            ServeRunning();
        }
        catch (TargetGoneException)
        {
            // The process is gone; whatever is left is detached (or reaped) by the kernel.
        }
    }

    /// <summary>
    /// A thread that does not stop cannot be detached now: the kernel detaches it when Graft
    /// exits, and drops the interrupt still pending for it then. A thread that exits on the way
    /// (its process killed by another thread's fatal signal) has nothing left to detach, and
    /// what killed the process is already on its way up: detaching must not replace it.
    /// </summary>
    private bool StopForDetach(int tid)
    {
        try
        {
            return Stop(tid, StopKinds.Detach);
        }
        catch (ThreadUnresponsiveException)
        {
            return false;
        }
        catch (TargetGoneException)
        {
            return false;
        }
    }
}
