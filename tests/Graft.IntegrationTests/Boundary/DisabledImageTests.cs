using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Boundary;

/// <summary>
/// A reverted patch's image stays loaded, as the kernel keeps a disabled livepatch's module:
/// what the program kept from it stays valid; the same build applied again reuses the image;
/// only `graft unload`, asked for, unmaps it.
/// </summary>
public sealed class DisabledImageTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void StringAPatchReturnedStaysValidAfterTheRevert(ConsistencyModel model)
    {
        using var keeper = RunningFixture.Start("keeper");
        var patcher = new NoticeLog().NewPatcher();

        patcher.Apply(keeper.Pid, Repository.Patch("describe_new"), Timeout, model: model);
        keeper.NextLine(l => l.EndsWith(" new new", StringComparison.Ordinal));
        patcher.Revert(keeper.Pid, "describe-new", Timeout, model: model);

        // The program prints the string the patch gave it, reverted or not.
        for (var tick = 0; tick < 10; tick++)
        {
            keeper.NextLine(l => l.EndsWith(" old new", StringComparison.Ordinal));
        }

        Assert.True(keeper.IsAlive);
        var state = Patcher.List(keeper.Pid);
        Assert.Empty(state.Patches);
        Assert.Equal("describe-new", Assert.Single(state.Disabled).Name);
    }

    [Fact]
    public void SameBuildAppliedAgainReusesItsImageAndUnloadUnmapsIt()
    {
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();

        for (var round = 0; round < 3; round++)
        {
            Assert.Equal(0, Shell.Graft("apply", pid, Repository.Patch("describe_new")).ExitCode);
            Ticks.Next(counter, 2, "new");
            Assert.Equal(0, Shell.Graft("revert", pid, "describe-new").ExitCode);
            Ticks.Next(counter, 2, "old");
        }

        Assert.Single(Directory.GetFiles($"/proc/{pid}/fd"), fd => new FileInfo(fd).LinkTarget!.Contains("graft-patch:describe-new", StringComparison.Ordinal));
        Assert.StartsWith("describe-new\treverted\t", Shell.Graft("list", pid).Stdout);

        var unload = Shell.Graft("unload", pid, "describe-new");

        Assert.Equal(0, unload.ExitCode);
        Assert.Equal($"unload: 'describe-new' in process {pid}: 1 image(s) unloaded\n", unload.Stdout);
        Assert.Contains("a pointer the program still holds into them now faults", unload.Stderr);
        Assert.DoesNotContain(File.ReadAllLines($"/proc/{pid}/maps"), l => l.Contains("graft-patch:", StringComparison.Ordinal));
        Assert.DoesNotContain(Directory.GetFiles($"/proc/{pid}/fd"), fd => new FileInfo(fd).LinkTarget!.Contains("graft-patch:", StringComparison.Ordinal));
        Assert.Empty(Patcher.List(counter.Pid).Disabled);
        Ticks.Next(counter, 2, "old");
    }

    [Fact]
    public void UnloadOfAnAppliedPatchIsRefused()
    {
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();
        Assert.Equal(0, Shell.Graft("apply", pid, Repository.Patch("describe_new")).ExitCode);

        var unload = Shell.Graft("unload", pid, "describe-new");

        Assert.Equal(2, unload.ExitCode);
        Assert.Equal($"graft: error: patch 'describe-new' is applied to process {pid}; revert it first\n", unload.Stderr);
        Ticks.Next(counter, 2, "new");
    }
}
