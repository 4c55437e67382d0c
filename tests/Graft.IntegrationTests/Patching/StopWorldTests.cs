using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Patching;

/// <summary>Stop-the-world: a thread inside a function to be replaced holds the patch back until it leaves.</summary>
public sealed class StopWorldTests
{
    [Fact]
    public void ThreadInsideTheOldFunctionHoldsApplyBackAndTimeoutLeavesTheTextUntouched()
    {
        using var blocker = RunningFixture.Start("blocker");
        var original = TargetText.Read(blocker.Pid);
        var patcher = new NoticeLog().NewPatcher();

        var refusal = Assert.Throws<GraftException>(() =>
            patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), TimeSpan.FromSeconds(1), model: ConsistencyModel.StopWorld));

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
        Assert.Throws<GraftException>(() => patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), TimeSpan.FromMilliseconds(300), model: ConsistencyModel.StopWorld));

        blocker.Signal("USR1");
        blocker.WaitForLine(l => l == "worker done", TimeSpan.FromSeconds(10));
        var report = patcher.Apply(blocker.Pid, Repository.Patch("slow_path"), TimeSpan.FromSeconds(15), model: ConsistencyModel.StopWorld);

        Assert.Equal(2, report.Functions.Count);
        Ticks.Next(blocker, 2, "new");
    }

    [Fact]
    public void ThreadsCreatedWhileStoppingAreStoppedTooAndNoneIsLeftBehind()
    {
        using var churn = RunningFixture.Start("churn");
        Ticks.CycleDescribe(churn, cycles: 20, ConsistencyModel.StopWorld);

        // Threads are still being created (NextLine fails if no such line comes).
        var first = Created(churn.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal)));
        churn.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && Created(l) > first + 100);
        foreach (var status in TaskStatuses(churn.Pid))
        {
            Assert.Contains("TracerPid:\t0", status);
            Assert.DoesNotContain(status, l => l.StartsWith("State:\tt", StringComparison.Ordinal));
        }
    }

    /// <summary>/proc status of every thread that still exists by the time it is read.</summary>
    private static IEnumerable<string[]> TaskStatuses(int pid)
    {
        foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            string[] status;
            try
            {
                status = File.ReadAllLines(Path.Combine(task, "status"));
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
            {
                continue;
            }

            yield return status;
        }
    }

    private static long Created(string tick) => long.Parse(tick.Split("created=")[1]);
}
