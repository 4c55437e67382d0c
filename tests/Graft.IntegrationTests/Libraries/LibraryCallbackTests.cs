using Graft.IntegrationTests.Support;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Libraries;

/// <summary>
/// The callback tests where a module comes or goes while a patch is applied, which needs
/// graftd's watch of the dynamic linker: Tests 2, 3, 4, 7, 8 and 9, numbered as the kernel's
/// own callback test cases (each one's summary says what it checks). modhost is the kernel, its
/// libraries the modules; the whole log of notices and callback lines is compared with the
/// expected one, as the kernel's selftests compare dmesg.
/// </summary>
public sealed class LibraryCallbackTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Test 2: the patch first, then the module: the coming handler runs its pre/post_patch before its constructor.</summary>
    [Fact]
    public void Test2AModuleLoadedAfterThePatchGetsItsPatchCallbacksBeforeItsConstructor()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using var graftd = new WatchedFixture(host.Pid, log);

        graftd.Apply(Repository.Patch("callbacks_demo"), Timeout);
        Assert.Equal([.. NotLoaded(host.Pid, "libcbmod.so", "libcbbusy.so"), .. Enabled("main")], log.Take());

        host.Send("load libcbmod.so", "loaded");
        Assert.Equal(
            Came("libcbmod.so", "libcbmod: cbmod_init"),
            log.Take());

        graftd.Revert("callbacks-demo", Timeout);
        host.Send("unload libcbmod.so", "unloaded");
        Assert.Equal([.. Disabled("main", "libcbmod.so"), "libcbmod: cbmod_exit"], log.Take());
    }

    /// <summary>Test 3: the module goes while the patch is applied: only its own unpatch callbacks run, around the notice.</summary>
    [Fact]
    public void Test3AModuleUnloadedUnderThePatchGetsOnlyItsOwnUnpatchCallbacks()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment, "libcbmod.so");
        log.Take();
        using var graftd = new WatchedFixture(host.Pid, log);

        graftd.Apply(Repository.Patch("callbacks_demo"), Timeout);
        Assert.Equal([.. NotLoaded(host.Pid, "libcbbusy.so"), .. Enabled("main", "libcbmod.so")], log.Take());

        host.Send("unload libcbmod.so", "unloaded");
        Assert.Equal([.. ExitedAndReverted("libcbmod.so", "libcbmod: cbmod_exit")], log.Take());

        graftd.Revert("callbacks-demo", Timeout);
        Assert.Equal(Disabled("main"), log.Take());
    }

    /// <summary>Test 4: the patch first, then the module comes and goes: the coming and going handlers both.</summary>
    [Fact]
    public void Test4AModuleComingAndGoingUnderThePatchGetsBothHandlers()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using var graftd = new WatchedFixture(host.Pid, log);

        graftd.Apply(Repository.Patch("callbacks_demo"), Timeout);
        log.Take();
        host.Send("load libcbmod.so", "loaded");
        Assert.Equal(
            Came("libcbmod.so", "libcbmod: cbmod_init"),
            log.Take());

        host.Send("unload libcbmod.so", "unloaded");
        Assert.Equal([.. ExitedAndReverted("libcbmod.so", "libcbmod: cbmod_exit")], log.Take());

        graftd.Revert("callbacks-demo", Timeout);
        Assert.Equal(Disabled("main"), log.Take());
    }

    /// <summary>
    /// Test 7: pre_patch fails for a module loading later. The kernel refuses the module; graftd
    /// cannot refuse a dlopen, so the library stays loaded without the patch, no other callback
    /// of it runs, the failure is logged and recorded, and the main executable stays patched.
    /// </summary>
    [Fact]
    public void Test7AFailingPrePatchLeavesALoadingModuleUnpatchedAndTheRestPatched()
    {
        using var log = new CallbackLog();
        var returnFile = Path.Combine(Path.GetTempPath(), $"graft-pre-patch-ret-{Guid.NewGuid():N}");
        var environment = new Dictionary<string, string>(log.Environment) { ["CALLBACKS_PRE_PATCH_RET_FILE"] = returnFile };
        using var host = RunningFixture.StartWithInput("modhost", environment);
        using var graftd = new WatchedFixture(host.Pid, log);
        try
        {
            graftd.Apply(Repository.Patch("callbacks_demo"), Timeout);
            log.Take();
            File.WriteAllText(returnFile, "-19");

            host.Send("load libcbmod.so", "loaded");
            Assert.Equal(
                [
                    "graft: applying patch 'callbacks-demo' to loading module 'libcbmod.so'",
                    "callbacks-demo: pre_patch_callback: libcbmod.so",
                    "graft: pre-patch callback failed for object 'libcbmod.so'",
                    "graft: patch 'callbacks-demo' failed for module 'libcbmod.so' (its pre-patch callback returned -19 (ENODEV: No such device)), leaving module 'libcbmod.so' loaded without any patch",
                    "libcbmod: cbmod_init",
                ],
                log.Take());
            Assert.Equal("describe host-new mod-old", host.Send("describe", "describe"));
            var refused = Graft.Patching.Operations.Patcher.List(host.Pid).Patches.Single().Objects.Single(o => o.Name == "libcbmod.so");
            Assert.Equal("patch 'callbacks-demo' failed for it: its pre-patch callback returned -19 (ENODEV: No such device)", refused.Refused);

            graftd.Revert("callbacks-demo", Timeout);
            Assert.Equal(Disabled("main"), log.Take());
        }
        finally
        {
            File.Delete(returnFile);
        }
    }

    /// <summary>Test 8: a busy module loaded before the patch, an idle one coming and going under it.</summary>
    [Fact]
    public void Test8ModulesLoadedBeforeAndAfterThePatchEachGetTheirCallbacks()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment, "libcbbusy.so");
        Assert.Equal(
            ["libcbbusy: busymod_init", "libcbbusy: busymod_work_func, sleeping 0 seconds ...", "libcbbusy: busymod_work_func exit"],
            log.Take());
        using var graftd = new WatchedFixture(host.Pid, log);

        graftd.Apply(Repository.Patch("callbacks_demo"), Timeout);
        Assert.Equal([.. NotLoaded(host.Pid, "libcbmod.so"), .. Enabled("main", "libcbbusy.so")], log.Take());

        host.Send("load libcbmod.so", "loaded");
        host.Send("unload libcbmod.so", "unloaded");
        Assert.Equal(
            [
                .. Came("libcbmod.so", "libcbmod: cbmod_init"),
                .. ExitedAndReverted("libcbmod.so", "libcbmod: cbmod_exit"),
            ],
            log.Take());

        graftd.Revert("callbacks-demo", Timeout);
        host.Send("unload libcbbusy.so", "unloaded");
        Assert.Equal([.. Disabled("main", "libcbbusy.so"), "libcbbusy: busymod_exit"], log.Take());
    }

    /// <summary>
    /// Test 9: the busy module holds the transition in flight; a module coming meanwhile gets
    /// only pre_patch, going only post_unpatch, and the reversed transition no pre_unpatch.
    /// </summary>
    [Fact]
    public void Test9ModulesComingAndGoingDuringATransitionSkipTheCallbacksItHasNotReached()
    {
        using var log = new CallbackLog();
        var environment = new Dictionary<string, string>(log.Environment) { ["BUSYMOD_SLEEP_SECS"] = "60" };
        using var host = RunningFixture.StartWithInput("modhost", environment, "libcbbusy.so");
        Assert.Equal(["libcbbusy: busymod_init", "libcbbusy: busymod_work_func, sleeping 60 seconds ..."], log.Take());
        using var graftd = new WatchedFixture(host.Pid, log);

        Assert.NotNull(graftd.Apply(Repository.Patch("callbacks_demo"), TimeSpan.FromSeconds(1)).InFlight);
        Assert.Equal(
            [
                .. NotLoaded(host.Pid, "libcbmod.so"),
                "graft: enabling patch 'callbacks-demo'",
                "graft: 'callbacks-demo': initializing patching transition",
                "callbacks-demo: pre_patch_callback: main",
                "callbacks-demo: pre_patch_callback: libcbbusy.so",
                "graft: 'callbacks-demo': starting patching transition",
            ],
            log.Take());

        host.Send("load libcbmod.so", "loaded");
        host.Send("unload libcbmod.so", "unloaded");
        Assert.Equal(
            [
                "graft: applying patch 'callbacks-demo' to loading module 'libcbmod.so'",
                "callbacks-demo: pre_patch_callback: libcbmod.so",
                "libcbmod: cbmod_init",
                "libcbmod: cbmod_exit",
                "graft: reverting patch 'callbacks-demo' on unloading module 'libcbmod.so'",
                "callbacks-demo: post_unpatch_callback: libcbmod.so",
            ],
            log.Take());

        graftd.Revert("callbacks-demo", Timeout);
        Assert.Equal(
            [
                "graft: 'callbacks-demo': reversing transition from patching to unpatching",
                "graft: 'callbacks-demo': starting unpatching transition",
                "graft: 'callbacks-demo': completing unpatching transition",
                "callbacks-demo: post_unpatch_callback: main",
                "callbacks-demo: post_unpatch_callback: libcbbusy.so",
                "graft: 'callbacks-demo': unpatching complete",
            ],
            log.Take());
    }

    private static IEnumerable<string> NotLoaded(int pid, params string[] libraries) =>
        libraries.Select(l => $"graft: 'callbacks-demo': object '{l}' is not loaded in process {pid}; graftd will patch it when it loads");

    private static IEnumerable<string> Enabled(params string[] objects) =>
        [
            "graft: enabling patch 'callbacks-demo'",
            "graft: 'callbacks-demo': initializing patching transition",
            .. objects.Select(o => $"callbacks-demo: pre_patch_callback: {o}"),
            "graft: 'callbacks-demo': starting patching transition",
            "graft: 'callbacks-demo': completing patching transition",
            .. objects.Select(o => $"callbacks-demo: post_patch_callback: {o}"),
            "graft: 'callbacks-demo': patching complete",
        ];

    private static List<string> Disabled(params string[] objects) =>
        [
            "graft: 'callbacks-demo': initializing unpatching transition",
            .. objects.Select(o => $"callbacks-demo: pre_unpatch_callback: {o}"),
            "graft: 'callbacks-demo': starting unpatching transition",
            "graft: 'callbacks-demo': completing unpatching transition",
            .. objects.Select(o => $"callbacks-demo: post_unpatch_callback: {o}"),
            "graft: 'callbacks-demo': unpatching complete",
        ];

    /// <summary>The coming handler, then the module's constructor: the patch is in force before any of its code runs.</summary>
    private static List<string> Came(string module, string initLine) =>
        [
            $"graft: applying patch 'callbacks-demo' to loading module '{module}'",
            $"callbacks-demo: pre_patch_callback: {module}",
            $"callbacks-demo: post_patch_callback: {module}",
            initLine,
        ];

    /// <summary>The module's destructor has run; then the going handler, as the kernel's after mod->exit().</summary>
    private static IEnumerable<string> ExitedAndReverted(string module, string exitLine) =>
        [
            exitLine,
            $"callbacks-demo: pre_unpatch_callback: {module}",
            $"graft: reverting patch 'callbacks-demo' on unloading module '{module}'",
            $"callbacks-demo: post_unpatch_callback: {module}",
        ];
}
