using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Contract;

/// <summary>
/// Functions built with gcc -pg start with a call to the profiling hook, the shape the kernel's livepatch always
/// patches: graft replaces that call with its jump instead of refusing the function.
/// </summary>
public sealed class ProfiledFunctionTests
{
    [Theory]
    [InlineData("profiled_fentry", ConsistencyModel.PerThread)]
    [InlineData("profiled_fentry", ConsistencyModel.StopWorld)]
    [InlineData("profiled_mcount", ConsistencyModel.PerThread)]
    [InlineData("profiled_mcount", ConsistencyModel.StopWorld)]
    public void AFunctionThatCallsTheProfilingHookFirstIsPatchedAndRestored(string fixture, ConsistencyModel model)
    {
        using var profiled = RunningFixture.Start(fixture);
        var patcher = new NoticeLog().NewPatcher();

        for (var cycle = 0; cycle < 5; cycle++)
        {
            Assert.Null(patcher.Apply(profiled.Pid, Repository.Patch("profiled_new"), TimeSpan.FromSeconds(30), model: model).InFlight);
            Ticks.Next(profiled, 2, "value=2");
            Assert.Null(patcher.Revert(profiled.Pid, "profiled-new", TimeSpan.FromSeconds(30), model: model).InFlight);
            Ticks.Next(profiled, 2, "value=1");
        }

        Assert.True(profiled.IsAlive);
    }
}
