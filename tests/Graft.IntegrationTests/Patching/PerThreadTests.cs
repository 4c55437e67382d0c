using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Patching;

/// <summary>The per-thread model: a stuck thread holds back only itself; transitions stay in flight, continue, reverse and force.</summary>
public sealed class PerThreadTests
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    /// <summary>
    /// waiters' threads sleep in system calls for days: the sweeps switch them by proposals, with no stop
    /// (the kernel's tasks switch on their way out of the kernel; these would only when they next call a patched
    /// function), while the ticker that calls describe() switches itself or is swept.
    /// </summary>
    [Fact]
    public void ThreadsAsleepInSystemCallsSwitchWithNoStop()
    {
        using var waiters = RunningFixture.Start("waiters");
        var patcher = new NoticeLog().NewPatcher();

        var apply = patcher.Apply(waiters.Pid, Repository.Patch("describe_new"), Long);

        // Nor are they stopped to be let go: the kernel detached each as it slept, before apply returned.
        Assert.DoesNotContain(apply.Stops.Kinds, k => k.Kind == "detach");
        Assert.All(Directory.GetDirectories($"/proc/{waiters.Pid}/task"), task =>
            Assert.Contains("TracerPid:\t0", File.ReadAllLines(Path.Combine(task, "status"))));
        Ticks.Next(waiters, 2, "new");
        var revert = patcher.Revert(waiters.Pid, "describe-new", Long);
        Ticks.Next(waiters, 2, "old");

        Assert.Null(apply.InFlight);
        Assert.Null(revert.InFlight);
        Assert.True(apply.Transition.SwitchedAsleep >= 8, $"{apply.Transition.SwitchedAsleep} switched asleep");
        Assert.True(revert.Transition.SwitchedAsleep >= 8, $"{revert.Transition.SwitchedAsleep} switched asleep");
    }

    /// <summary>
    /// A thread created by a switched one starts switched (the kernel's klp_copy_process), also when
    /// its creator was switched asleep by a proposal and has called no patched function since:
    /// blocker's spawner never calls one. Each child calls describe() once, at its start, and the
    /// worker keeps the transition in flight for the whole apply; the children the spawner creates
    /// once it is switched run the new describe(). Before, they took the universe its entry still
    /// named, the old one, in a transition that counted their creator as switched: by hand, 194 of
    /// 194 children during an apply ran the old describe(), and 179 of 190 with the change.
    /// </summary>
    [Fact]
    public void ThreadsCreatedByAThreadSwitchedAsleepStartSwitched()
    {
        using var blocker = RunningFixture.Start("blocker", "spawn");
        var before = blocker.Lines().Count;

        // Exit 7: the transition stays in flight, the worker still in the old slow_path().
        var apply = Shell.Graft("apply", blocker.Pid.ToString(), Repository.Patch("slow_path"), "--timeout", "1");

        Assert.True(apply.ExitCode == 7, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");
        var children = blocker.Lines().Skip(before).Where(l => l.StartsWith("child ", StringComparison.Ordinal)).ToList();
        Assert.True(children.Contains("child new"), $"no child ran the new describe(): {children.Count} children, {children.Count(c => c == "child old")} old");
    }

    [Fact]
    public void BlockedThreadHoldsBackOnlyItselfAndTheNextSweepCompletesOnceItIsReleased()
    {
        using var blocker = RunningFixture.Start("blocker");
        var log = new NoticeLog();
        var patcher = log.NewPatcher();

        var report = patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), Short);

        var progress = Assert.IsType<TransitionProgress>(report.InFlight);
        Assert.Equal(progress.Threads - 1, progress.Switched);
        var stuck = Assert.Single(progress.Stuck);
        Assert.StartsWith("is running slow_path", stuck.Reason);
        Assert.Contains(stuck.Stack, frame => frame.Contains("slow_path", StringComparison.Ordinal));
        Assert.Equal(1, report.Stops.MostStoppedAtOnce);

        // The main thread switched: it runs the new describe() while the worker still sits in the old slow_path().
        Ticks.Next(blocker, 2, "new");
        var status = Assert.IsType<TransitionProgress>(new Patcher(_ => { }).Status(blocker.Pid));
        Assert.Equal(stuck.Tid, Assert.Single(status.Stuck).Tid);
        Assert.Equal("patching", Phase(blocker.Pid));

        blocker.Signal("USR1");
        blocker.WaitForLine(l => l == "worker done", TimeSpan.FromSeconds(10));
        Assert.Null(patcher.Continue(blocker.Pid, Long).InFlight);

        Assert.Null(new Patcher(_ => { }).Status(blocker.Pid));
        Assert.Equal("patched", Phase(blocker.Pid));
        Assert.Equal(
            [
                "enabling patch 'slow-path'",
                "'slow-path': initializing patching transition",
                "'slow-path': starting patching transition",
                "'slow-path': completing patching transition",
                "'slow-path': patching complete",
            ],
            log.Lines);
    }

    [Fact]
    public void RevertDuringTheTransitionReversesItAndThreadsConvergeBack()
    {
        using var blocker = RunningFixture.Start("blocker");
        var original = TargetText.Read(blocker.Pid);
        var log = new NoticeLog();
        var patcher = log.NewPatcher();
        Assert.NotNull(patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), Short).InFlight);
        Ticks.Next(blocker, 2, "new");

        // The worker never left the old code, so nothing holds the way back.
        Assert.Null(patcher.Revert(blocker.Pid, "slow-path", Long).InFlight);

        Ticks.Next(blocker, 2, "old");
        original.AssertCodeUnchanged(blocker.Pid);
        Assert.Empty(Patcher.List(blocker.Pid).Patches);
        Assert.Equal(
            [
                "enabling patch 'slow-path'",
                "'slow-path': initializing patching transition",
                "'slow-path': starting patching transition",
                "'slow-path': reversing transition from patching to unpatching",
                "'slow-path': starting unpatching transition",
                "'slow-path': completing unpatching transition",
                "'slow-path': unpatching complete",
            ],
            log.Lines);
    }

    [Fact]
    public void ForceSwitchesTheStuckThreadAndTheForcedPatchStaysLoadedAfterRevert()
    {
        using var blocker = RunningFixture.Start("blocker");
        var log = new NoticeLog();
        var patcher = log.NewPatcher();
        Assert.NotNull(patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), Short).InFlight);

        Assert.Null(patcher.Continue(blocker.Pid, Short, force: true).InFlight);

        Assert.Contains("forcing remaining threads to the patched state", log.Lines);
        Assert.True(Assert.Single(Patcher.List(blocker.Pid).Patches).Forced);
        blocker.Signal("USR1");
        blocker.WaitForLine(l => l == "worker done", TimeSpan.FromSeconds(10));
        Assert.Null(patcher.Revert(blocker.Pid, "slow-path", Long).InFlight);
        Assert.True(Assert.Single(Patcher.List(blocker.Pid).Disabled).Forced);
        var refusal = Assert.Throws<GraftException>(() => patcher.Unload(blocker.Pid, "slow-path"));
        Assert.Equal("patch 'slow-path' was forced earlier: threads may still run its code, so it stays loaded", refusal.Message);
        Assert.Contains(File.ReadLines($"/proc/{blocker.Pid}/maps"), l => l.Contains("graft-patch:slow-path", StringComparison.Ordinal));
        Ticks.Next(blocker, 2, "old");
    }

    [Fact]
    public void AnotherPatchIsRefusedWhileATransitionIsInFlight()
    {
        using var blocker = RunningFixture.Start("blocker");
        var patcher = new NoticeLog().NewPatcher();
        Assert.NotNull(patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), Short).InFlight);

        var refusal = Assert.Throws<GraftException>(() => patcher.Apply(blocker.Pid, Repository.Patch("describe_new"), Long));

        Assert.Equal(GraftFailure.Refused, refusal.Failure);
        Assert.Equal($"patch 'slow-path' is in transition in process {blocker.Pid}; finish it with 'graft continue {blocker.Pid}' "
            + $"or reverse it with 'graft revert {blocker.Pid} slow-path' first", refusal.Message);
    }

    [Fact]
    public void ThreadChurnDuringTransitionsLeavesNoThreadBehind()
    {
        using var churn = RunningFixture.Start("churn");

        Ticks.CycleDescribe(churn, cycles: 20);

        Assert.True(churn.IsAlive);
        Assert.DoesNotContain(File.ReadLines($"/proc/{churn.Pid}/status"), l => l.StartsWith("TracerPid:", StringComparison.Ordinal) && !l.EndsWith("\t0", StringComparison.Ordinal));
    }

    private static string Phase(int pid) =>
        Patcher.List(pid).Patches.Single().Phase.ToString().ToLowerInvariant();
}
