using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// Issue 13, finding 6: Graft's stops must not make a blocked system call fail with EINTR, not
/// even the calls the kernel does not restart after a stop (epoll_wait, epoll_pwait(2),
/// sigtimedwait), and not on the thread Graft runs its dlopen and dlclose on; while a signal
/// whose handler has no SA_RESTART still gets its EINTR.
/// </summary>
public sealed class SystemCallRestartTests
{
    private const int Cycles = 10;

    private static readonly string[] Calls =
        ["epoll_wait", "epoll_pwait", "epoll_pwait2", "sigtimedwait", "poll", "select", "nanosleep", "futex", "read", "accept"];

    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void ApplyAndRevertInterruptNoBlockedCall(ConsistencyModel model)
    {
        using var waiters = RunningFixture.Start("waiters");

        // Each cycle waits for the fixture to print describe's new and then old result.
        Ticks.CycleDescribe(waiters, Cycles, model);

        var counts = Counts(Ticks.Next(waiters, 2, "old"));
        Assert.All(Calls, call => Assert.True(counts[call] == 0, $"{call} failed with EINTR {counts[call]} times"));
        Assert.True(counts["signalled"] > 0);
        Assert.Equal(0, counts["hidden"]);
        Assert.Equal(0, counts["spurious"]);
        Assert.True(waiters.IsAlive);
    }

    private static Dictionary<string, long> Counts(string tick) =>
        tick.Split(' ').Skip(3).Select(f => f.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1]));
}
