using Graft.IntegrationTests.Support;
using Graft.Patching;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.Contract;

/// <summary>
/// coldpart (gcc -O2): handle's unlikely branch lies in handle.cold, and one thread waits there. A thread in
/// handle.cold is inside handle: it must keep the old handle and encode until it leaves, so that handle.cold's call of
/// encode() gets the old encode it was built for (3), never the new one (1002).
/// </summary>
public sealed class ColdPartTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string> NoEnvironment = [];

    [Fact]
    public void AThreadInTheColdPartHoldsAPerThreadTransitionUntilItLeaves()
    {
        using var fixture = RunningFixture.StartWithInput("coldpart", NoEnvironment);
        var patcher = new NoticeLog().NewPatcher();

        var report = patcher.Apply(fixture.Pid, Repository.Patch("coldpart_new"), TimeSpan.FromSeconds(2));

        Assert.NotNull(report.InFlight);
        var stuck = Assert.Single(report.InFlight.Stuck);
        output.WriteLine($"{stuck.Tid}: {stuck.Reason}");
        Assert.Contains("handle (handle.cold)", stuck.Reason, StringComparison.Ordinal);
        fixture.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && l.EndsWith(" value=1006", StringComparison.Ordinal));
        Assert.Equal("cold result=3", fixture.Send("release", "cold "));
        Assert.Null(patcher.Continue(fixture.Pid, TimeSpan.FromSeconds(30)).InFlight);
    }

    [Fact]
    public void StopTheWorldFindsNoSafeMomentWhileAThreadIsInTheColdPart()
    {
        using var fixture = RunningFixture.StartWithInput("coldpart", NoEnvironment);
        var patcher = new NoticeLog().NewPatcher();

        var failure = Assert.Throws<GraftException>(() =>
            patcher.Apply(fixture.Pid, Repository.Patch("coldpart_new"), TimeSpan.FromSeconds(1), model: ConsistencyModel.StopWorld));

        output.WriteLine(failure.Message);
        Assert.Equal(GraftFailure.Timeout, failure.Failure);
        Assert.Contains("handle (handle.cold)", failure.Message, StringComparison.Ordinal);
        Assert.Equal("cold result=3", fixture.Send("release", "cold "));
    }
}
