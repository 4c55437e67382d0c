using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Patching;

/// <summary>Stop-the-world: a thread inside a function to be replaced holds the patch back until it leaves.</summary>
public sealed class ConsistencyTests
{
    [Fact]
    public void ThreadInsideTheOldFunctionHoldsApplyBackAndTimeoutLeavesTheTextUntouched()
    {
        using var blocker = RunningFixture.Start("blocker");
        var original = TargetText.Read(blocker.Pid);
        var patcher = new NoticeLog().NewPatcher();

        var refusal = Assert.Throws<GraftException>(() =>
            patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), TimeSpan.FromSeconds(1)));

        Assert.Equal(GraftFailure.Timeout, refusal.Failure);
        Assert.Contains("is running slow_path", refusal.Message);
        original.AssertCodeUnchanged(blocker.Pid);
        Assert.Empty(Patcher.List(blocker.Pid).Patches);
        Ticks.Next(blocker, 2, "old");
    }

    [Fact]
    public void ApplySucceedsOnceTheThreadHasLeftTheOldFunction()
    {
        using var blocker = RunningFixture.Start("blocker");
        var patcher = new NoticeLog().NewPatcher();
        Assert.Throws<GraftException>(() => patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), TimeSpan.FromMilliseconds(300)));

        blocker.Signal("USR1");
        blocker.WaitForLine(l => l == "worker done", TimeSpan.FromSeconds(10));
        var report = patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), TimeSpan.FromSeconds(15));

        Assert.Equal(2, report.Functions.Count);
        Ticks.Next(blocker, 2, "new");
    }
}
