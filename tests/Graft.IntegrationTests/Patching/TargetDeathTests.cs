using System.Diagnostics;
using Graft.IntegrationTests.Support;
using Graft.Patching;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.Patching;

/// <summary>A target that dies while graft is attached is reported at once, as what happened to it.</summary>
public sealed class TargetDeathTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void AReplacementThatFaultsIsReportedWithTheThreadTheSignalAndWhereItStruck(ConsistencyModel model)
    {
        using var callers = RunningFixture.Start("callers");
        var patcher = new NoticeLog().NewPatcher();
        var clock = Stopwatch.StartNew();

        var failure = Assert.Throws<GraftException>(() =>
            patcher.Apply(callers.Pid, Repository.Patch("callers_crash"), TimeSpan.FromSeconds(30), model: model));

        output.WriteLine($"{clock.ElapsedMilliseconds} ms: {failure}");
        Assert.Equal(GraftFailure.TargetCrashed, failure.Failure);
        Assert.Matches($@"^process {callers.Pid} died: thread \d+ got SIGSEGV at 0x[0-9a-f]+ in the code of patch 'callers-crash' \(touch_crash\+0x[0-9a-f]+\)$", failure.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "reported as late as a timeout would be");
        WaitUntilDead(callers);
    }

    [Fact]
    public void ATargetKilledFromOutsideIsReportedAsKilledNotAsATimeout()
    {
        using var callers = RunningFixture.Start("callers", "park");
        var patcher = new NoticeLog().NewPatcher();

        // The parked thread holds the transition in flight; the apply waits for it until its timeout.
        var apply = Task.Run(() => patcher.Apply(callers.Pid, Repository.Patch("callers_new"), TimeSpan.FromSeconds(60)));
        callers.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && !l.EndsWith(" patched=0", StringComparison.Ordinal));
        callers.Signal("KILL");

        var failure = Assert.Throws<GraftException>(() => apply.GetAwaiter().GetResult());
        output.WriteLine(failure.ToString());
        Assert.Equal(GraftFailure.TargetGone, failure.Failure);
        Assert.Equal($"process {callers.Pid} was killed by SIGKILL", failure.Message);
    }

    private static void WaitUntilDead(RunningFixture fixture)
    {
        var clock = Stopwatch.StartNew();
        while (fixture.IsAlive && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(10);
        }

        Assert.False(fixture.IsAlive, "the target outlived its fatal signal");
    }
}
