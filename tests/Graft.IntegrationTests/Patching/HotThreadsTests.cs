using System.Diagnostics;
using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// Threads that are nearly always inside the function being patched. In hot, 16 workers are
/// each inside hot() about 90% of the time: every thread is clean now and then, all 16 at
/// once practically never. Per-thread converges; stop-world finds no safe moment.
/// </summary>
public sealed class HotThreadsTests(ITestOutputHelper output)
{
    /// <summary>
    /// Threads inside the patched function nearly all the time switch themselves at their next call of it
    /// (DispatcherCode's self-switch): the apply converges in the first sweep, which finds them switched.
    /// </summary>
    [Fact]
    public void HotThreadsSwitchThemselvesAtTheirNextCall()
    {
        using var hot = RunningFixture.Start("hot", "8");
        var patcher = new NoticeLog().NewPatcher();

        var report = patcher.Apply(hot.Pid, Repository.Patch("hot_new"), TimeSpan.FromSeconds(60));

        Assert.Null(report.InFlight);
        Assert.InRange(report.Transition.SelfSwitched, 1, 8);
        hot.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && l.Contains(" new=8 of=8 ", StringComparison.Ordinal));
        var revert = patcher.Revert(hot.Pid, "hot-new", TimeSpan.FromSeconds(60));
        Assert.Null(revert.InFlight);
        Assert.InRange(revert.Transition.SelfSwitched, 1, 8);
        hot.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && l.Contains(" new=0 of=8 ", StringComparison.Ordinal));
        output.WriteLine($"apply: {report.Transition.Attempts} sweep(s), {report.Transition.SelfSwitched} switched themselves; "
            + $"revert: {revert.Transition.Attempts} sweep(s), {revert.Transition.SelfSwitched} switched themselves");
    }

    [Fact]
    [Trait(Traits.Category, Traits.Stress)]
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
            + $"longest thread stop {report.Stops.LongestStop.TotalMilliseconds:0.###} ms, at most {report.Stops.MostStoppedAtOnce} stopped at once; "
            + $"stop-world: {stopWorld.Message[..Math.Min(120, stopWorld.Message.Length)]}");
    }

    /// <summary>
    /// A main thread that does nothing but call spin() keeps running into the int3 Graft
    /// writes at its entry, and is the first thread Graft tries for membarrier and calls. When
    /// it executed the int3 just before Graft's interrupt, it stopped one byte past it with its
    /// SIGTRAP pending: code run on it took that trap, and the thread was put back inside the
    /// instruction being written (PERFORMANCE.md problem 3; the target died about 1 apply in 10).
    /// </summary>
    [Fact]
    [Trait(Traits.Category, Traits.Stress)]
    public void AThreadCallingTheFunctionInATightLoopSurvivesRepeatedAppliesAndReverts()
    {
        const int Rounds = 40;
        using var spin = RunningFixture.Start("spin");
        var patcher = new NoticeLog().NewPatcher();

        for (var round = 0; round < Rounds; round++)
        {
            Assert.Null(patcher.Apply(spin.Pid, Repository.Patch("spin_new"), TimeSpan.FromSeconds(30)).InFlight);
            Assert.True(spin.IsAlive, $"spin died in round {round}, applying");
            Assert.Null(patcher.Revert(spin.Pid, "spin-new", TimeSpan.FromSeconds(30)).InFlight);
            Assert.True(spin.IsAlive, $"spin died in round {round}, reverting");
        }

        Assert.Empty(Patcher.List(spin.Pid).Patches);
        spin.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && l.EndsWith(" version=1", StringComparison.Ordinal));
        Assert.True(spin.IsAlive, "spin died after the last revert");
    }
}
