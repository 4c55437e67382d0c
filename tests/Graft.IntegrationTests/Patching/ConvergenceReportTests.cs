using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// The report of a per-thread transition says how long it took to converge, from the entries' writing to the last
/// thread switched; stop-world has no such span.
/// </summary>
public sealed class ConvergenceReportTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void APerThreadTransitionReportsItsConvergenceAndStopWorldNone()
    {
        using var hot = RunningFixture.Start("hot", "4");
        var patcher = new NoticeLog().NewPatcher();

        var before = DateTime.UtcNow;
        var applied = patcher.Apply(hot.Pid, Repository.Patch("hot_new"), Timeout);
        var took = DateTime.UtcNow - before;
        hot.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && l.Contains(" new=4 of=4 ", StringComparison.Ordinal));
        var reverted = patcher.Revert(hot.Pid, "hot-new", Timeout);

        Assert.True(applied.Transition.Convergence is { } converged && converged > TimeSpan.Zero && converged < took,
            $"convergence {applied.Transition.Convergence} of a {took} apply");
        Assert.True(reverted.Transition.Convergence > TimeSpan.Zero);

        // Stop-world switches every thread at once: there is nothing to converge.
        using var counter = RunningFixture.Start("counter");
        Assert.Null(patcher.Apply(counter.Pid, Repository.Patch("describe_new"), Timeout, model: ConsistencyModel.StopWorld).Transition.Convergence);
    }
}
