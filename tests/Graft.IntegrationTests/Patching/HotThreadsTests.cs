using System.Diagnostics;
using Graft.IntegrationTests.Support;
using Graft.Patching;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// 16 workers, each inside hot() about 90% of the time: every thread is clean now and then,
/// all 16 at once practically never. Per-thread converges; stop-world finds no safe moment.
/// </summary>
public sealed class HotThreadsTests(ITestOutputHelper output)
{
    [Fact]
    public void PerThreadConvergesWhereStopWorldTimesOut()
    {
        using var hot = RunningFixture.Start("hot");
        var patcher = new NoticeLog().NewPatcher();

        var clock = Stopwatch.StartNew();
        var report = patcher.Apply(hot.Pid, Repository.Patch("hot_new"), TimeSpan.FromSeconds(60));
        var converged = clock.Elapsed;

        Assert.Null(report.InFlight);
        hot.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && l.Contains(" new=16 of=16 ", StringComparison.Ordinal));
        Assert.Null(patcher.Revert(hot.Pid, "hot-new", TimeSpan.FromSeconds(60)).InFlight);

        var stopWorld = Assert.Throws<GraftException>(() =>
            patcher.Apply(hot.Pid, Repository.Patch("hot_new"), TimeSpan.FromSeconds(3), model: ConsistencyModel.StopWorld));
        Assert.Equal(GraftFailure.Timeout, stopWorld.Failure);
        Assert.Empty(Patcher.List(hot.Pid).Patches);
        output.WriteLine($"per-thread apply converged in {converged.TotalMilliseconds:0} ms, {report.Transition.Attempts} sweeps, "
            + $"longest thread stop {report.Transition.LongestStop.TotalMilliseconds:0.###} ms, at most {report.Transition.MostStoppedAtOnce} stopped at once; "
            + $"stop-world: {stopWorld.Message[..Math.Min(120, stopWorld.Message.Length)]}");
    }
}
