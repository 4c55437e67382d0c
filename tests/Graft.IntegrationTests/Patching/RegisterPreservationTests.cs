using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// docs/ARCHITECTURE.md's invariant 3: the thread graft borrows for dlopen/dlclose gets every register back,
/// vector registers included, and its interrupted syscall restarts without EINTR. Every thread
/// of the fixture checks sentinels around its syscall, so whichever thread graft picks is checked.
/// </summary>
public sealed class RegisterPreservationTests
{
    [Fact]
    public void BorrowedThreadsGetTheirGeneralAndVectorRegistersBack()
    {
        using var fixture = RunningFixture.Start("registers");
        Ticks.CycleDescribe(fixture, cycles: 20);

        var last = Counters(fixture.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal)));
        Assert.True(last["checks"] > 100, $"{last["checks"]} syscalls checked");
        Assert.Equal(0, last["corrupted"]);
        Assert.Equal(0, last["eintr"]);
    }

    private static Dictionary<string, long> Counters(string tick) =>
        tick.Split(' ').Skip(3).Select(f => f.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1]));
}
