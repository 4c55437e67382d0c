using Graft.IntegrationTests.Support;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// The kernel selftests' callback tests with two livepatches (test-callbacks.sh "multiple
/// livepatches" and "atomic replace"): each patch runs its own callbacks as it goes through its
/// transitions, and a cumulative patch takes over without running the replaced patch's unpatch
/// callbacks.
/// </summary>
public sealed class CallbackStackingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void EachOfTwoLivepatchesRunsItsOwnCallbacks()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment, "libcbmod.so", "libcbbusy.so");
        log.Take();
        var patcher = log.NewPatcher();

        patcher.Apply(host.Pid, Repository.Patch("callbacks_demo"), Timeout);
        patcher.Apply(host.Pid, Repository.Patch("callbacks_demo2"), Timeout);
        patcher.Revert(host.Pid, "callbacks-demo2", Timeout);
        patcher.Revert(host.Pid, "callbacks-demo", Timeout);

        Assert.Equal(
            [
                .. Patching("callbacks-demo", "main", "libcbmod.so", "libcbbusy.so"),
                .. Patching("callbacks-demo2", "main"),
                .. Unpatching("callbacks-demo2", "main"),
                .. Unpatching("callbacks-demo", "main", "libcbmod.so", "libcbbusy.so"),
            ],
            log.Take());
    }

    [Fact]
    public void ACumulativePatchRunsNoneOfTheReplacedPatchsUnpatchCallbacks()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment, "libcbmod.so", "libcbbusy.so");
        log.Take();
        var patcher = log.NewPatcher();

        patcher.Apply(host.Pid, Repository.Patch("callbacks_demo"), Timeout);
        Assert.Equal("describe host-new mod-old", host.Send("describe", "describe"));
        patcher.Apply(host.Pid, Repository.Patch("callbacks_demo2_replace"), Timeout);

        // callbacks-demo2 replaces no function: the nop sends host_describe back to the original.
        Assert.Equal("describe host-old mod-old", host.Send("describe", "describe"));
        Assert.Equal(["callbacks-demo2"], Graft.Patching.Operations.Patcher.List(host.Pid).Patches.Select(p => p.Name));
        patcher.Revert(host.Pid, "callbacks-demo2", Timeout);

        Assert.Equal(
            [
                .. Patching("callbacks-demo", "main", "libcbmod.so", "libcbbusy.so"),
                .. Patching("callbacks-demo2", "main"),
                .. Unpatching("callbacks-demo2", "main"),
            ],
            log.Take());
    }

    private static string[] Patching(string patch, params string[] objects) =>
    [
        $"graft: enabling patch '{patch}'",
        $"graft: '{patch}': initializing patching transition",
        .. objects.Select(o => $"{patch}: pre_patch_callback: {o}"),
        $"graft: '{patch}': starting patching transition",
        $"graft: '{patch}': completing patching transition",
        .. objects.Select(o => $"{patch}: post_patch_callback: {o}"),
        $"graft: '{patch}': patching complete",
    ];

    private static string[] Unpatching(string patch, params string[] objects) =>
    [
        $"graft: '{patch}': initializing unpatching transition",
        .. objects.Select(o => $"{patch}: pre_unpatch_callback: {o}"),
        $"graft: '{patch}': starting unpatching transition",
        $"graft: '{patch}': completing unpatching transition",
        .. objects.Select(o => $"{patch}: post_unpatch_callback: {o}"),
        $"graft: '{patch}': unpatching complete",
    ];
}
