using Graft.Linux.Inspection;
using Graft.Linux.Unwinding;
using Graft.Patching.Target;

namespace Graft.Patching.Transitions;

/// <summary>
/// The threads of a per-thread transition (see <see cref="Transition"/>): the table of which
/// universe each is in, the threads that switch themselves in their dispatchers, the sweeps
/// that switch the others, threads and processes created meanwhile, and --force. Hooks into
/// the tracee while it lives.
/// </summary>
internal sealed class TransitionThreads : IDisposable
{
    private readonly TargetProcess target;
    private readonly ThreadTable table;
    private readonly ThreadSweeper sweeper;
    private readonly Func<ThreadStack, string?> blocker;
    private readonly Action<int, Universe> settleChild;

    private TransitionThreads(TargetProcess target, ThreadTable table, Universe goal, Blocking blocking, EntryRewind rewind, Action<int, Universe> settleChild)
    {
        this.target = target;
        this.table = table;
        blocker = blocking.Check;
        this.settleChild = settleChild;
        sweeper = new ThreadSweeper(target, table, goal, blocker, rewind);
        target.OnNewThreads(Inherit, Settle);
        LetThreadsSwitchThemselves(blocking.SelfSwitchRanges);
    }

    public Universe Goal => sweeper.Goal;

    public int Sweeps => sweeper.Sweeps;

    /// <summary>Threads Graft found switched by their own dispatcher, as of the table's last refresh.</summary>
    public int SelfSwitched => table.SelfSwitched;

    /// <summary>Threads asleep in a system call that Graft switched without a stop, by a proposal.</summary>
    public int SwitchedAsleep => sweeper.SwitchedAsleep;

    /// <summary>
    /// A new table with every thread in the universe opposite to <paramref name="goal"/>: the
    /// table's unknown universe. No thread is stopped for it: the threads glibc lists get an
    /// entry from that list; any other, when it switches (its thread pointer is read in that
    /// stop) or is created.
    /// </summary>
    public static TransitionThreads Begin(TargetProcess target, ulong tableAddress, Universe goal, Blocking blocking, EntryRewind rewind, Action<int, Universe> settleChild)
    {
        var start = goal == Universe.New ? Universe.Old : Universe.New;
        var table = ThreadTable.Create(target.Memory, tableAddress, start);
        return new TransitionThreads(target, table, goal, blocking, rewind, settleChild);
    }

    /// <summary>
    /// The table an earlier graft left, now heading for <paramref name="goal"/> (the same goal,
    /// or reversed). Threads it does not know are in the universe the transition started from,
    /// which reversed is the goal.
    /// </summary>
    public static TransitionThreads Continue(TargetProcess target, ulong tableAddress, Universe goal, Blocking blocking, EntryRewind rewind, Action<int, Universe> settleChild)
    {
        var table = ThreadTable.Load(target.Memory, tableAddress);
        return new TransitionThreads(target, table, goal, blocking, rewind, settleChild);
    }

    /// <summary>
    /// Turns the threads' self-switch off and waits, with <paramref name="waitOutDispatchers"/>,
    /// until no thread is inside a dispatcher, where it might still store the goal it read: after
    /// that, the table changes only by Graft's hand, and the goal may change.
    /// </summary>
    public void StopSelfSwitching(Action waitOutDispatchers)
    {
        table.ForbidSelfSwitch();
        waitOutDispatchers();
        table.Refresh();
        table.ClearProposals();
    }

    /// <summary>Sweeps until done or the deadline; the threads still stuck. <paramref name="swept"/> hears of each sweep (<see cref="ThreadSweeper.Run"/>).</summary>
    public IReadOnlyList<StuckThread> Run(Deadline deadline, Action<IReadOnlyList<StuckThread>> swept) => sweeper.Run(deadline, swept);

    /// <summary>How many live threads there are and how many are in the goal universe (after a sweep).</summary>
    public (int Threads, int Switched) Progress()
    {
        var threads = target.ThreadIds.ToList();
        return (threads.Count, threads.Count(sweeper.IsSwitched));
    }

    /// <summary>--force: every thread goes to the goal universe now, clean stack or not.</summary>
    public void Force()
    {
        foreach (var tid in target.ThreadIds.Where(t => !sweeper.IsSwitched(t)).ToList())
        {
            using var stopped = target.TryStop(tid, StopPurposes.Force);
            if (stopped is not null)
            {
                table.Set(sweeper.ThreadPointer(tid), Goal);
            }
        }
    }

    /// <summary>
    /// Lets the threads glibc lists switch themselves at their next call of a patched function
    /// (<see cref="X86.DispatcherCode"/>): by Graft's proposal, made while one sleeps, and by a
    /// scan of its own stack, within the bounds in its entry, for <paramref name="ranges"/>. No
    /// scans in a process under a seccomp filter, which might refuse the dispatcher's sigaltstack
    /// call; nothing where the seccomp check has not run or glibc's list cannot be read: the sweep
    /// then switches every thread with a stop.
    /// </summary>
    private void LetThreadsSwitchThemselves(IEnumerable<(ulong Start, ulong End)> ranges)
    {
        Precondition.Require(table.SelfSwitchGoal is null || table.SelfSwitchGoal == Goal,
            "the threads switch themselves towards the other universe (a reversal turns that off before it writes the record)");
        if (target.UnderSeccompFilter is not { } filtered)
        {
            return;
        }

        if (filtered)
        {
            // Turned on by an earlier graft before a filter came.
            table.ForbidScans();
        }

        if (GlibcThreads.Read(target.Modules, target.Memory, target.ThreadIds) is not { } threads)
        {
            return;
        }

        var mappings = ProcessMaps.Read(target.Pid);
        foreach (var thread in threads)
        {
            sweeper.Know(thread.Tid, thread.ThreadPointer);
            if (!table.Knows(thread.ThreadPointer))
            {
                table.Add(thread.ThreadPointer, table.Unknown, GlibcThreads.Stack(thread, target.Pid, mappings));
            }
        }

        if (table.SelfSwitchGoal is null)
        {
            table.AllowSelfSwitch(Goal, ranges, scan: !filtered);
        }
    }

    /// <summary>
    /// A new thread takes its creator's universe (the kernel's klp_copy_process). A creator whose
    /// proposal holds counts as switched (<see cref="ThreadSweeper.IsSwitched"/>) while its entry
    /// still names the universe it started in: its child takes the goal. Given the entry's universe,
    /// the child would start in one the sweeps no longer wait for, and a transition completing
    /// meanwhile would give it the final code in the middle of an old call: the likely cause of
    /// the one mixed result pair's "churn" gave, whose spawner is switched asleep by a proposal.
    /// </summary>
    private void Inherit(int creator, int child)
    {
        table.Refresh();
        var creatorPointer = sweeper.ThreadPointer(creator);
        var universe = table.ProposalHolds(creatorPointer, Goal) ? Goal : table.UniverseOf(creatorPointer);
        table.SetNewborn(sweeper.NewbornPointer(child), universe);
    }

    /// <summary>
    /// A forked child is a process of one thread, whose stack is its forking thread's. It must
    /// not be left half-way with no graft to finish: it ends in its thread's universe if that
    /// is the goal or the stack is clean for it, otherwise in the universe it started in.
    /// </summary>
    private void Settle(int forkingThread, int child)
    {
        table.Refresh();
        var universe = table.UniverseOf(sweeper.ThreadPointer(forkingThread));
        if (universe != Goal)
        {
            var stack = target.Stack(forkingThread);
            if (stack.IsReliable && blocker(stack) is null)
            {
                universe = Goal;
            }
        }

        settleChild(child, universe);
    }

    /// <summary>What keeps a thread from switching: the check of its unwound stack, and the ranges its own dispatcher scans for.</summary>
    public sealed record Blocking(Func<ThreadStack, string?> Check, IReadOnlyList<(ulong Start, ulong End)> SelfSwitchRanges);

    public void Dispose()
    {
        target.OnNewThreads(null, null);
    }
}
