using System.Text;
using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;

namespace Graft.Patching.Target;

/// <summary>
/// Graft's own thread inside the target, named "graft-agent": a detached glibc thread whose
/// start routine is pause(), started by an injected pthread_create at the end of the first
/// apply that completes, and left for the life of the process. Graft's calls of every later
/// operation (dlopen, dlclose, callbacks, mmap, membarrier) run on it, so that no thread of the
/// program is stopped for them (<see cref="CallerThread"/>).
/// <para>
/// Only a completed apply starts it: an apply that is refused or rolled back leaves the
/// process as it found it, and a thread, its stack and its malloc arena would not be. For the
/// same reason the new agent allocates once before the apply ends, so that glibc gives it its
/// arena then and not inside a later operation that may be rolled back.
/// </para>
/// <para>
/// It blocks every signal but the faults and glibc's own two (<see cref="Tracee.AgentSignalMask"/>),
/// so a signal sent to the process is never delivered to it and no handler of the program runs
/// on it: it is created inside Graft's call, with every asynchronous signal blocked, and once
/// parked its mask lets glibc's SIGSETXID in again, which setuid() and its kin send to every
/// thread and wait for. Its handler returns pause() with EINTR, the start routine returns and
/// the agent ends; the next apply starts another. Otherwise nothing wakes it and pause() never
/// returns. It is not started in a process under a seccomp filter (thread creation makes
/// system calls the filter was never checked against), nor when pthread_create fails: the
/// program's own threads then run Graft's calls, as before.
/// </para>
/// <para>
/// What a program sees: one more thread in /proc/&lt;pid&gt;/task, asleep, with its 8 MiB
/// stack and its arena. A child that a thread of the program forks has no agent (fork copies
/// only the calling thread); its first completed apply starts one.
/// </para>
/// </summary>
internal static class AgentThread
{
    public const string Name = "graft-agent";

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    // How long a new agent has to reach pause(): thread start-up is microseconds of work.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(1);

    /// <summary>The agent of the process, if it has one: a thread of that name that blocks what the agent blocks.</summary>
    public static int? Find(TargetProcess target) =>
        target.ThreadIds
            .Where(tid => !target.IsVforkChild(tid) && TaskFiles.Name(target.Pid, tid) == Name
                && (TaskFiles.BlockedSignals(target.Pid, tid) & Tracee.AgentSignalMask) == Tracee.AgentSignalMask)
            .Select(tid => (int?)tid)
            .FirstOrDefault();

    /// <summary>Whether the stopped agent is where it waits (interrupted in pause), and so fit to run calls.</summary>
    public static bool IsParked(TargetProcess target, int tid) => (long)target.Registers(tid).orig_rax == Syscalls.SYS_pause;

    /// <summary>
    /// Starts the agent at the end of an apply that completed, if the process has none and may
    /// have one. One thread of the program is stopped for the one call that creates it
    /// (pthread_create); the others run on the agent. Where it cannot start, or the timeout has passed, nothing
    /// changes: the apply stands, and the next one tries again.
    /// </summary>
    public static void StartIfMissing(TargetProcess target, StateStore store, Deadline deadline)
    {
        if (target.Agent is not null || target.UnderSeccompFilter is not false || deadline.HasPassed)
        {
            return;
        }

        try
        {
            int? created;
            using (var caller = CallerThread.Acquire(target, deadline, StopPurposes.AgentStart))
            {
                created = TryCreate(target, store, caller.Tid);
            }

            if (created is { } tid && AwaitParked(target, tid))
            {
                Settle(target, store, tid);
            }
        }
        catch (GraftException e) when (e.Failure == GraftFailure.Timeout)
        {
            // No thread of the program was fit for the call in time: no agent yet.
        }
    }

    /// <summary>
    /// pthread_create on a stopped thread of the program, the one call that needs it; the new
    /// thread's tid (the thread that call created), or null if it failed.
    /// </summary>
    private static int? TryCreate(TargetProcess target, StateStore store, int callerTid)
    {
        var before = target.ThreadIds.ToHashSet();
        if (Call(target, store, callerTid, "pthread_create", store.Scratch, 0, CLibrary.Function(target, "pause"), 0) != 0)
        {
            return null;
        }

        return target.ThreadIds.Where(t => !before.Contains(t) && target.IsGraftsOwn(t)).Select(t => (int?)t).SingleOrDefault();
    }

    /// <summary>
    /// On the parked agent, stopped: its mask (<see cref="Tracee.AgentSignalMask"/>), its name,
    /// which later graft processes find it by, pthread_detach of itself (its pthread_t is still
    /// in the scratch area where pthread_create put it), and one malloc and free, so that glibc
    /// gives it its arena now.
    /// </summary>
    private static void Settle(TargetProcess target, StateStore store, int tid)
    {
        using var stopped = target.TryStop(tid, StopPurposes.AgentStart);
        if (stopped is null || !IsParked(target, tid))
        {
            target.AdoptAgent(null);
            return;
        }

        target.SetSignalMask(tid, Tracee.AgentSignalMask);
        var thread = target.Memory.ReadUInt64(store.Scratch);
        var name = store.Scratch + 16;
        target.Memory.Write(name, Encoding.ASCII.GetBytes(Name + "\0"));
        target.Syscalls.SetName(tid, name);
        Call(target, store, tid, "pthread_detach", thread);
        Call(target, store, tid, "free", Call(target, store, tid, "malloc", 1));
    }

    /// <summary>Waits until the new thread sits in pause() and adopts it (<see cref="TargetProcess.AdoptAgent"/>); false if it did not get there in time.</summary>
    private static bool AwaitParked(TargetProcess target, int tid)
    {
        var deadline = Deadline.After(StartTimeout);
        while (!deadline.HasPassed && target.ThreadIds.Contains(tid))
        {
            if (TaskFiles.BlockedInSyscall(target.Pid, tid) == Syscalls.SYS_pause)
            {
                target.AdoptAgent(tid);
                return true;
            }

            target.Pump(TimeSpan.FromMilliseconds(1));
        }

        return false;
    }

    private static ulong Call(TargetProcess target, StateStore store, int tid, string function, params ulong[] args) =>
        target.Call(tid, store.Trampoline, CLibrary.Function(target, function), CallTimeout, args);
}
