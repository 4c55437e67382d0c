using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// Patches stack on one function as the kernel's func_stack does: the newest wins, reverting it
/// falls back to the one below, and a patch with another stacked on it is not reverted.
/// Cumulative patches replace every earlier one in one transition.
/// </summary>
public sealed class StackingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void TheNewestPatchWinsAndRevertingItFallsBackToTheOneBelow(ConsistencyModel model)
    {
        using var counter = RunningFixture.Start("counter");
        var original = TargetText.Read(counter.Pid);
        var patcher = new NoticeLog().NewPatcher();

        foreach (var (file, output) in new[] { ("describe_new", "new"), ("describe_v2", "v2"), ("describe_v3", "v3") })
        {
            patcher.Apply(counter.Pid, Repository.Patch(file), Timeout, model: model);
            Ticks.Next(counter, 2, output);
        }

        var refusal = Assert.Throws<GraftException>(() => patcher.Revert(counter.Pid, "describe-v2", Timeout, model: model));
        Assert.Equal(GraftFailure.Refused, refusal.Failure);
        Assert.Equal("patch 'describe-v2' cannot be reverted while patch 'describe-v3' is stacked on it ('describe' in counter); revert 'describe-v3' first",
            refusal.Message);
        Ticks.Next(counter, 2, "v3");

        foreach (var (name, below) in new[] { ("describe-v3", "v2"), ("describe-v2", "new"), ("describe-new", "old") })
        {
            patcher.Revert(counter.Pid, name, Timeout, model: model);
            Ticks.Next(counter, 2, below);
        }

        Assert.Empty(Patcher.List(counter.Pid).Patches);
        original.AssertCodeUnchanged(counter.Pid);
    }

    /// <summary>The kernel selftest "multiple livepatches": two patches on different functions, reverted in either order.</summary>
    [Fact]
    public void PatchesOnDifferentFunctionsAreRevertedInAnyOrder()
    {
        using var counter = RunningFixture.Start("counter");
        var log = new NoticeLog();
        var patcher = log.NewPatcher();

        patcher.Apply(counter.Pid, Repository.Patch("describe_new"), Timeout);
        patcher.Apply(counter.Pid, Repository.Patch("lib_greeting"), Timeout);
        var both = Ticks.Next(counter, 4, "patched-hello");
        Assert.Equal("new", Ticks.Field(both, 2));

        patcher.Revert(counter.Pid, "describe-new", Timeout);
        var greetingOnly = Ticks.Next(counter, 2, "old");
        Assert.Equal("patched-hello", Ticks.Field(greetingOnly, 4));
        patcher.Revert(counter.Pid, "lib-greeting", Timeout);
        Assert.Equal("hello", Ticks.Field(Ticks.Next(counter, 2, "old"), 4));

        Assert.Equal([.. Enabled("describe-new"), .. Enabled("lib-greeting"), .. Disabled("describe-new"), .. Disabled("lib-greeting")], log.Lines);
    }

    /// <summary>
    /// The kernel selftest "atomic replace livepatch": the cumulative patch takes over describe
    /// from two stacked patches and sends lib_greeting, which only an older patch touched, back
    /// to its original code. The replaced patches are disabled (their images stay loaded);
    /// reverting the cumulative one leaves the original program.
    /// </summary>
    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void ACumulativePatchReplacesEveryEarlierPatchInOneTransition(ConsistencyModel model)
    {
        using var counter = RunningFixture.Start("counter");
        var original = TargetText.Read(counter.Pid);
        var log = new NoticeLog();
        var patcher = log.NewPatcher();
        patcher.Apply(counter.Pid, Repository.Patch("lib_greeting"), Timeout, model: model);
        patcher.Apply(counter.Pid, Repository.Patch("describe_new"), Timeout, model: model);
        patcher.Apply(counter.Pid, Repository.Patch("describe_v2"), Timeout, model: model);
        Assert.Equal("patched-hello", Ticks.Field(Ticks.Next(counter, 2, "v2"), 4));

        patcher.Apply(counter.Pid, Repository.Patch("describe_cumulative"), Timeout, model: model);

        Assert.Equal("hello", Ticks.Field(Ticks.Next(counter, 2, "cumulative"), 4));
        var applied = Assert.Single(Patcher.List(counter.Pid).Patches);
        Assert.Equal("describe-cumulative", applied.Name);
        Assert.True(applied.Replace);
        Assert.Equal(["describe"], applied.Functions.Select(f => f.Name));
        // The replaced patches are disabled, their images kept loaded, as the kernel keeps their modules.
        Assert.Equal(["lib-greeting", "describe-new", "describe-v2"], Patcher.List(counter.Pid).Disabled.Select(p => p.Name));

        patcher.Revert(counter.Pid, "describe-cumulative", Timeout, model: model);
        Assert.Equal("hello", Ticks.Field(Ticks.Next(counter, 2, "old"), 4));
        original.AssertCodeUnchanged(counter.Pid);
        Assert.Equal(
            [.. Enabled("lib-greeting"), .. Enabled("describe-new"), .. Enabled("describe-v2"), .. Enabled("describe-cumulative"), .. Disabled("describe-cumulative")],
            log.Lines);
    }

    private static string[] Enabled(string patch) =>
    [
        $"enabling patch '{patch}'",
        $"'{patch}': initializing patching transition",
        $"'{patch}': starting patching transition",
        $"'{patch}': completing patching transition",
        $"'{patch}': patching complete",
    ];

    private static string[] Disabled(string patch) =>
    [
        $"'{patch}': initializing unpatching transition",
        $"'{patch}': starting unpatching transition",
        $"'{patch}': completing unpatching transition",
        $"'{patch}': unpatching complete",
    ];
}
