using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Boundary;

/// <summary>
/// A daemon whose main thread called pthread_exit() is alive, though /proc/&lt;pid&gt;/maps, mem
/// and fd are empty: graft reads it through a live thread and patches it like any other.
/// </summary>
public sealed class HeadlessProcessTests
{
    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void ProcessWhoseMainThreadExitedIsPatchedListedAndReverted(ConsistencyModel model)
    {
        using var headless = RunningFixture.Start("headless");
        Assert.Empty(File.ReadAllText($"/proc/{headless.Pid}/maps"));

        Ticks.CycleDescribe(headless, 2, model);

        Assert.Empty(Patcher.List(headless.Pid).Patches);
        Assert.True(headless.IsAlive);
    }
}
