using Graft.IntegrationTests.Support;
using Graft.Patching;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.Contract;

/// <summary>
/// callers (gcc -O2, -fipa-ra on; callers_o3 is -O3 -march=native, callers_clang clang-14 -O2): touch() changes no register and needs no aligned
/// stack, so its C caller keeps its pointer and sum in caller-saved registers across the call, and an assembly caller
/// calls it with rsp misaligned and checks every register touch() leaves alone. The patch
/// replaces it with a function that calls libgraft through the PLT. Graft must reach the replacement through its
/// register-preserving entry, so that neither caller sees a register change, in either model and while a per-thread
/// transition is held in flight.
/// </summary>
public sealed class CallerContractTests(ITestOutputHelper output)
{
    private const int Cycles = 100;

    [Theory]
    [Trait(Traits.Category, Traits.Stress)]
    [InlineData("callers", ConsistencyModel.PerThread)]
    [InlineData("callers", ConsistencyModel.StopWorld)]
    [InlineData("callers_o3", ConsistencyModel.PerThread)]
    [InlineData("callers_o3", ConsistencyModel.StopWorld)]
    [InlineData("callers_clang", ConsistencyModel.PerThread)]
    [InlineData("callers_clang", ConsistencyModel.StopWorld)]
    public void ALeafReplacedByANonLeafKeepsEveryRegisterItsCallersRelyOn(string fixture, ConsistencyModel model)
    {
        using var callers = RunningFixture.Start(fixture);
        var patcher = new NoticeLog().NewPatcher();
        for (var cycle = 0; cycle < Cycles; cycle++)
        {
            var report = patcher.Apply(callers.Pid, Repository.Patch("callers_new"), TimeSpan.FromSeconds(30), model: model);
            Assert.Null(report.InFlight);
            Assert.True(callers.IsAlive, $"callers died in cycle {cycle}, applying");
            if (cycle == 0)
            {
                var touch = report.Functions.Single(f => f.Name == "touch");
                output.WriteLine($"touch: {touch.Entry}");
                Assert.True(touch.Entry?.Preserving, touch.Entry?.Reason);
                Assert.Contains("r10 r11", touch.Entry!.Kept, StringComparison.Ordinal);
                var park = report.Functions.Single(f => f.Name == "park");
                Assert.False(park.Entry?.Preserving, park.Entry?.Reason);
                callers.NextLine(l => Field(l, "patched") > 0);
            }

            Assert.Null(patcher.Revert(callers.Pid, "callers-new", TimeSpan.FromSeconds(30), model: model).InFlight);
            Assert.True(callers.IsAlive, $"callers died in cycle {cycle}, reverting");
        }

        var last = callers.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal));
        output.WriteLine(last);
        Assert.Equal(0, Field(last, "bad"));
        Assert.Equal(0, Field(last, "changed"));
        Assert.True(Field(last, "patched") > 0, last);
    }

    [Fact]
    public void CallersThroughTheDispatcherOfATransitionInFlightSeeNoRegisterChange()
    {
        using var callers = RunningFixture.Start("callers", "park");
        var patcher = new NoticeLog().NewPatcher();

        // The parked thread sits in the old park(), so the transition stays in flight; every call of touch() goes
        // through the dispatcher, and the callers' threads through the new touch().
        var report = patcher.Apply(callers.Pid, Repository.Patch("callers_new"), TimeSpan.FromSeconds(1));
        Assert.NotNull(report.InFlight);
        var start = callers.NextLine(l => Field(l, "patched") > 0);
        var later = callers.NextLine(l => Field(l, "calls") > Field(start, "calls") + 100_000, TimeSpan.FromSeconds(30));
        output.WriteLine(later);
        Assert.Equal(0, Field(later, "changed"));
        Assert.Equal(0, Field(later, "bad"));

        Assert.Null(patcher.Revert(callers.Pid, "callers-new", TimeSpan.FromSeconds(30)).InFlight);
        Assert.True(callers.IsAlive);
        Assert.Equal(0, Field(callers.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal)), "changed"));
    }

    /// <summary>The value of "name=value" in a tick line; -1 when the line is no tick.</summary>
    private static long Field(string line, string name)
    {
        if (!line.StartsWith("tick ", StringComparison.Ordinal))
        {
            return -1;
        }

        var field = line.Split(' ').First(f => f.StartsWith(name + "=", StringComparison.Ordinal));
        return long.Parse(field[(name.Length + 1)..]);
    }
}
