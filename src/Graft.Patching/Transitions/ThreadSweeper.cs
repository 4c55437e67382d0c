using Graft.Linux.Inspection;
using Graft.Linux.Tracing;
using Graft.Linux.Unwinding;
using Graft.Patching.Target;

namespace Graft.Patching.Transitions;

/// <summary>
/// The kernel's klp_try_complete_transition for threads: stop one thread, unwind it, and if its
/// stack holds nothing the goal forbids, switch it to the goal universe; then resume it. At no
/// moment is more than that one thread stopped. A thread asleep in a system call is looked at
/// without a stop, and switched by a proposal its dispatcher takes (see <see cref="ThreadTable.Propose"/>).
/// </summary>
internal sealed class ThreadSweeper(TargetProcess target, ThreadTable table, Universe goal, Func<ThreadStack, string?> blocker, EntryRewind rewind)
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan LongestRetryDelay = TimeSpan.FromMilliseconds(100);

    // How often the table is read while threads switch themselves, and after how many reads with no new switch a sweep
    // comes (AwaitSelfSwitches): 16 busy threads on 2 CPUs each wait several milliseconds for one.
    private static readonly TimeSpan SelfSwitchPoll = TimeSpan.FromMilliseconds(1);
    private const int QuietPolls = 10;

    // At most this many threads' states are read per look: in a process of a thousand threads asleep, reading them all
    // would cost more than the sweep saves (1,000 idle threads: 25 ms more per apply, measured).
    private const int RunningLookLimit = 64;

    // A thread's pointer never changes (glibc sets it once, at creation), so one stop tells it.
    private readonly Dictionary<int, ulong> threadPointers = [];

    public int Sweeps { get; private set; }

    public int SwitchedAsleep { get; private set; }

    public Universe Goal => goal;

    /// <summary>The thread's pointer (fs_base), read once while it is stopped.</summary>
    public ulong ThreadPointer(int tid)
    {
        if (!threadPointers.TryGetValue(tid, out var pointer))
        {
            pointer = target.Registers(tid).fs_base;
            threadPointers[tid] = pointer;
        }

        return pointer;
    }

    /// <summary>
    /// The pointer of a thread just created, stopped before it ran, read from its registers even if its tid is known:
    /// the kernel gives a tid again once its thread has ended, and what this table holds for it is the ended thread's.
    /// </summary>
    public ulong NewbornPointer(int tid)
    {
        threadPointers.Remove(tid);
        return ThreadPointer(tid);
    }

    /// <summary>A thread pointer read without a stop (<see cref="Linux.Inspection.GlibcThreads"/>).</summary>
    public void Know(int tid, ulong threadPointer) => threadPointers[tid] = threadPointer;

    /// <summary>As of the table's last refresh: a thread may have switched itself since.</summary>
    public bool IsSwitched(int tid) =>
        threadPointers.TryGetValue(tid, out var pointer) && (table.UniverseOf(pointer) == goal || table.ProposalHolds(pointer, goal));

    /// <summary>
    /// Sweeps until every thread has switched or the deadline passes; the threads still stuck, none when done.
    /// <paramref name="swept"/> hears the threads stuck after each sweep, when no thread is held stopped.
    /// </summary>
    public IReadOnlyList<StuckThread> Run(Deadline deadline, Action<IReadOnlyList<StuckThread>> swept)
    {
        var delay = FirstRetryDelay;
        var stuckBefore = int.MaxValue;
        while (true)
        {
            AwaitSelfSwitches(deadline);
            var stuck = Sweep(deadline);
            swept(stuck);
            if (stuck.Count == 0 || deadline.Interruption.IsCancellationRequested || !deadline.Allows(delay))
            {
                return stuck;
            }

            // While threads keep switching, sweep again soon; back off only when a sweep switched none.
            delay = stuck.Count < stuckBefore ? FirstRetryDelay : (delay * 2 < LongestRetryDelay ? delay * 2 : LongestRetryDelay);
            stuckBefore = stuck.Count;
            target.Pump(delay);
        }
    }

    /// <summary>
    /// Before a sweep, while threads may switch themselves (<see cref="X86.DispatcherCode"/>), reads the table every
    /// millisecond instead of stopping anyone, until every thread has switched, none of those left is running (a
    /// thread asleep switches by the sweep's proposal), or <see cref="QuietPolls"/> reads in a row found no new switch.
    /// A thread switches itself at its next call of a patched function, so the callers of a hot function switch within
    /// one call of theirs; a sweep that came first would stop them one at a time and find most of them inside the
    /// function (docs/PERFORMANCE.md, item 19: a revert converged only in its second sweep).
    /// </summary>
    private void AwaitSelfSwitches(Deadline deadline)
    {
        // Without scans (a seccomp filter) threads switch only by the sweep's proposals.
        if (table.SelfSwitchGoal != goal || !table.ScansAllowed)
        {
            return;
        }

        var pending = Unswitched();
        for (var quiet = 0; pending > 0 && quiet < QuietPolls && deadline.Allows(SelfSwitchPoll) && AnyUnswitchedRuns();)
        {
            target.Pump(SelfSwitchPoll);
            RefreshTable();
            var now = Unswitched();
            quiet = now < pending ? 0 : quiet + 1;
            pending = now;
        }
    }

    private int Unswitched() => target.ThreadIds.Count(t => !IsSwitched(t));

    private bool AnyUnswitchedRuns() =>
        target.ThreadIds.Where(t => !IsSwitched(t)).Take(RunningLookLimit)
            .Any(t => ProcDirectory.State($"/proc/{target.Pid}/task/{t}/stat") == 'R');

    /// <summary>
    /// One pass over the threads not yet in the goal universe. Past the deadline the threads
    /// not yet looked at stay where they are, as stuck: a sweep of thousands of threads would
    /// otherwise run on long after it.
    /// </summary>
    private List<StuckThread> Sweep(Deadline deadline)
    {
        Sweeps++;
        using var urgent = Urgency.Raise(Urgency.Caller);

        RefreshTable();
        var stuck = new List<StuckThread>();
        foreach (var tid in target.ThreadIds.Where(t => !IsSwitched(t)).ToList())
        {
            if (deadline.HasPassed)
            {
                stuck.Add(new StuckThread(tid, "was not looked at before the timeout", []));
                continue;
            }

            if (TrySwitchAsleep(tid, stuck))
            {
                continue;
            }

            using var stopped = target.TryStop(tid, StopPurposes.Sweep);
            if (stopped is not null && TrySwitch(tid) is { } reason)
            {
                stuck.Add(reason);
            }
        }

        threadPointers.Keys.Where(t => !target.ThreadIds.Contains(t)).ToList().ForEach(t => threadPointers.Remove(t));
        return stuck;
    }

    /// <summary>
    /// Threads that switched themselves since the last sweep need no stop. A process that died meanwhile cannot be read:
    /// the sweep's first stop then says how it ended (killed, or crashed and where), which a failed read cannot.
    /// </summary>
    private void RefreshTable()
    {
        try
        {
            table.Refresh();
        }
        catch (RemoteMemoryException)
        {
        }
    }

    /// <summary>
    /// A thread asleep in a system call, with an entry and no proposal yet, is looked at without a stop: its calls
    /// count read before and after its stack is read unchanged (the stack read proves it did not run meanwhile, see
    /// <see cref="Linux.Unwinding.SleepingThreadStacks"/>; a thread asleep has made its counted stores visible), then
    /// a clean one gets a proposal of the goal with that count, and one that is not is stuck. False when it must be stopped.
    /// </summary>
    private bool TrySwitchAsleep(int tid, List<StuckThread> stuck)
    {
        if (!threadPointers.TryGetValue(tid, out var pointer) || !table.Knows(pointer) || table.HasProposal(pointer))
        {
            return false;
        }

        try
        {
            if (table.SelfSwitchGoal != goal)
            {
                return false;
            }

            var calls = table.CallsOf(pointer);
            if (target.StackIfAsleep(tid) is not { IsReliable: true } stack || table.CallsOf(pointer) != calls)
            {
                return false;
            }

            if (blocker(stack) is { } reason)
            {
                stuck.Add(new StuckThread(tid, reason, [.. stack.Frames.Select(f => f.ToString())]));
                return true;
            }

            table.Propose(pointer, goal, calls);
            SwitchedAsleep++;
            return true;
        }
        catch (Exception e) when (e is RemoteMemoryException or TargetGoneException)
        {
            // Gone or dying: the stop says which.
            return false;
        }
    }

    private StuckThread? TrySwitch(int tid)
    {
        var pointer = ThreadPointer(tid);
        if (table.UniverseOf(pointer) == goal)
        {
            return null;
        }

        // A thread that has not run yet has an empty stack (see Tracee.IsUnstarted).
        if (!target.IsUnstarted(tid))
        {
            var stack = target.Stack(tid, rewind.Apply(target, tid));
            var reason = stack.IsReliable ? blocker(stack) : $"has an unreliable stack: {stack.UnreliableReason}";
            if (reason is not null)
            {
                return new StuckThread(tid, reason, [.. stack.Frames.Select(f => f.ToString())]);
            }
        }

        table.Set(pointer, goal);
        return null;
    }
}
