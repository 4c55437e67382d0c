using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Boundary;

/// <summary>A refused or rolled-back apply leaves the target byte-identical: code and memory map, graft's own mapping included.</summary>
public sealed class NoTraceTests
{
    [Fact]
    public void StaticExecutableIsRefusedBeforeAnythingIsWritten()
    {
        using var target = RunningFixture.Start("static");
        var before = TargetText.Read(target.Pid);

        var refusal = Assert.Throws<GraftException>(() =>
            new NoticeLog().NewPatcher().Apply(target.Pid, Repository.Patch("describe_new"), TimeSpan.FromSeconds(5)));

        Assert.Equal(GraftFailure.Refused, refusal.Failure);
        Assert.Equal($"process {target.Pid} has no dlopen() (graft needs glibc's dynamic loading)", refusal.Message);
        before.AssertUnchanged(target.Pid);
        Ticks.Next(target, 2, "old");
    }

    [Fact]
    public void ApplyRolledBackAfterTheTimeoutLeavesNoMappingBehind()
    {
        using var hot = RunningFixture.Start("hot", "4");
        var before = TargetText.Read(hot.Pid);

        var timeout = Assert.Throws<GraftException>(() => new NoticeLog().NewPatcher()
            .Apply(hot.Pid, Repository.Patch("hot_new"), TimeSpan.FromSeconds(1), model: ConsistencyModel.StopWorld));

        Assert.Equal(GraftFailure.Timeout, timeout.Failure);
        before.AssertUnchanged(hot.Pid);
        Assert.Empty(Patcher.List(hot.Pid).Patches);
    }
}
