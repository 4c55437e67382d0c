using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// The (un)patch callbacks, run in the kernel's order and symmetry (an unpatch callback only
/// where its patch callback ran), with modhost as the kernel and its libraries as the modules:
/// the whole log of notices and callback lines is compared with the expected one, as the
/// kernel's selftests compare dmesg. Tests 1, 5 and 6 bear the numbers of the kernel's own
/// callback test cases; each one's summary says what it checks.
/// </summary>
public sealed class CallbackTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Test 1: a module loaded before the patch gets its callbacks; one never loaded gets none.</summary>
    [Fact]
    public void Test1CallbacksRunForTheMainExecutableAndALoadedModule()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment, "libcbmod.so");
        Assert.Equal(["libcbmod: cbmod_init"], log.Take());
        var patcher = log.NewPatcher();

        patcher.Apply(host.Pid, Repository.Patch("callbacks_demo"), Timeout);
        Assert.Equal("describe host-new mod-old", host.Send("describe", "describe"));
        patcher.Revert(host.Pid, "callbacks-demo", Timeout);
        Assert.Equal("describe host-old mod-old", host.Send("describe", "describe"));
        host.Send("unload libcbmod.so", "unloaded");

        Assert.Equal(
            [
                $"graft: 'callbacks-demo': object 'libcbbusy.so' is not loaded in process {host.Pid}; it will not be patched if it is loaded later: {ServiceSocket.NoneAnswers()}",
                "graft: enabling patch 'callbacks-demo'",
                "graft: 'callbacks-demo': initializing patching transition",
                "callbacks-demo: pre_patch_callback: main",
                "callbacks-demo: pre_patch_callback: libcbmod.so",
                "graft: 'callbacks-demo': starting patching transition",
                "graft: 'callbacks-demo': completing patching transition",
                "callbacks-demo: post_patch_callback: main",
                "callbacks-demo: post_patch_callback: libcbmod.so",
                "graft: 'callbacks-demo': patching complete",
                "graft: 'callbacks-demo': initializing unpatching transition",
                "callbacks-demo: pre_unpatch_callback: main",
                "callbacks-demo: pre_unpatch_callback: libcbmod.so",
                "graft: 'callbacks-demo': starting unpatching transition",
                "graft: 'callbacks-demo': completing unpatching transition",
                "callbacks-demo: post_unpatch_callback: main",
                "callbacks-demo: post_unpatch_callback: libcbmod.so",
                "graft: 'callbacks-demo': unpatching complete",
                "libcbmod: cbmod_exit",
            ],
            log.Take());
    }

    /// <summary>Test 5: with none of its modules loaded, only the main executable's callbacks run.</summary>
    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void Test5OnlyTheMainExecutablesCallbacksRunWhenNoModuleIsLoaded(ConsistencyModel model)
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        var patcher = log.NewPatcher();

        patcher.Apply(host.Pid, Repository.Patch("callbacks_demo"), Timeout, model: model);
        Assert.Equal("describe host-new -", host.Send("describe", "describe"));
        patcher.Revert(host.Pid, "callbacks-demo", Timeout, model: model);

        Assert.Equal(
            [
                $"graft: 'callbacks-demo': object 'libcbmod.so' is not loaded in process {host.Pid}; it will not be patched if it is loaded later: {ServiceSocket.NoneAnswers()}",
                $"graft: 'callbacks-demo': object 'libcbbusy.so' is not loaded in process {host.Pid}; it will not be patched if it is loaded later: {ServiceSocket.NoneAnswers()}",
                "graft: enabling patch 'callbacks-demo'",
                "graft: 'callbacks-demo': initializing patching transition",
                "callbacks-demo: pre_patch_callback: main",
                "graft: 'callbacks-demo': starting patching transition",
                "graft: 'callbacks-demo': completing patching transition",
                "callbacks-demo: post_patch_callback: main",
                "graft: 'callbacks-demo': patching complete",
                "graft: 'callbacks-demo': initializing unpatching transition",
                "callbacks-demo: pre_unpatch_callback: main",
                "graft: 'callbacks-demo': starting unpatching transition",
                "graft: 'callbacks-demo': completing unpatching transition",
                "callbacks-demo: post_unpatch_callback: main",
                "graft: 'callbacks-demo': unpatching complete",
            ],
            log.Take());
    }

    /// <summary>Test 6: a failing pre_patch stops the patch; apply reports the errno and the process is left as it was.</summary>
    [Fact]
    public void Test6AFailingPrePatchCallbackLeavesNothingPatched()
    {
        using var log = new CallbackLog();
        var returnFile = log.Path + ".ret";
        File.WriteAllText(returnFile, "-19\n");
        var environment = new Dictionary<string, string>(log.Environment) { ["CALLBACKS_PRE_PATCH_RET_FILE"] = returnFile };
        using var host = RunningFixture.StartWithInput("modhost", environment, "libcbmod.so");
        var before = TargetText.Read(host.Pid);
        log.Take();

        var failure = Assert.Throws<GraftException>(() => log.NewPatcher().Apply(host.Pid, Repository.Patch("callbacks_demo"), Timeout));
        File.Delete(returnFile);

        Assert.Equal(GraftFailure.PrePatchFailed, failure.Failure);
        Assert.Equal("patch 'callbacks-demo' was not applied: the pre-patch callback of object 'main' returned -19 (ENODEV: No such device)", failure.Message);
        Assert.Equal(
            [
                $"graft: 'callbacks-demo': object 'libcbbusy.so' is not loaded in process {host.Pid}; it will not be patched if it is loaded later: {ServiceSocket.NoneAnswers()}",
                "graft: enabling patch 'callbacks-demo'",
                "graft: 'callbacks-demo': initializing patching transition",
                "callbacks-demo: pre_patch_callback: main",
                "graft: pre-patch callback failed for object 'main'",
                "graft: failed to enable patch 'callbacks-demo'",
                "graft: 'callbacks-demo': canceling transition, going to unpatch",
                "graft: 'callbacks-demo': completing unpatching transition",
                "graft: 'callbacks-demo': unpatching complete",
            ],
            log.Take());
        Assert.Empty(Patcher.List(host.Pid).Patches);

        // The map too: modhost's main thread waits in getline's read, and graft's calls run there, in malloc's main
        // arena. On its worker, which never allocates, they left an arena of 64 MiB behind.
        before.AssertUnchanged(host.Pid);
        Assert.Equal("describe host-old mod-old", host.Send("describe", "describe"));
    }

    /// <summary>
    /// An apply whose pre_patch callbacks ran but whose transition never started runs only the
    /// post_unpatch callbacks as it rolls back: no post_patch, no pre_unpatch. Here the
    /// stop-world switch never comes (a thread sleeps in busymod_work_func) and the apply rolls back.
    /// </summary>
    [Fact]
    public void AnApplyRolledBackAfterPrePatchRunsOnlyPostUnpatch()
    {
        using var log = new CallbackLog();
        var environment = new Dictionary<string, string>(log.Environment) { ["BUSYMOD_SLEEP_SECS"] = "60" };
        using var host = RunningFixture.StartWithInput("modhost", environment, "libcbbusy.so");
        var before = TargetText.Read(host.Pid);
        log.Take();

        var failure = Assert.Throws<GraftException>(() =>
            log.NewPatcher().Apply(host.Pid, Repository.Patch("callbacks_demo"), TimeSpan.FromSeconds(1), model: ConsistencyModel.StopWorld));

        Assert.Equal(GraftFailure.Timeout, failure.Failure);
        Assert.Equal(
            [
                $"graft: 'callbacks-demo': object 'libcbmod.so' is not loaded in process {host.Pid}; it will not be patched if it is loaded later: {ServiceSocket.NoneAnswers()}",
                "graft: enabling patch 'callbacks-demo'",
                "graft: 'callbacks-demo': initializing patching transition",
                "callbacks-demo: pre_patch_callback: main",
                "callbacks-demo: pre_patch_callback: libcbbusy.so",
                "graft: 'callbacks-demo': starting patching transition",
                "callbacks-demo: post_unpatch_callback: main",
                "callbacks-demo: post_unpatch_callback: libcbbusy.so",
            ],
            log.Take());
        Assert.Empty(Patcher.List(host.Pid).Patches);
        before.AssertCodeUnchanged(host.Pid);
    }

    /// <summary>
    /// Callbacks call malloc; a thread of the target allocates without pause. Graft never runs a
    /// callback on a thread that may hold the allocator's lock, so every operation finishes.
    /// </summary>
    [Fact]
    public void CallbacksThatAllocateNeverDeadlockATargetThatAllocatesInATightLoop()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment, "--allocator", "libcbmod.so");
        var patcher = log.NewPatcher();

        for (var cycle = 0; cycle < 10; cycle++)
        {
            Assert.Null(patcher.Apply(host.Pid, Repository.Patch("callbacks_demo"), Timeout).InFlight);
            Assert.Null(patcher.Revert(host.Pid, "callbacks-demo", Timeout).InFlight);
        }

        var lines = log.Take();
        Assert.Equal(10 * 2, lines.Count(l => l.StartsWith("callbacks-demo: post_unpatch_callback:", StringComparison.Ordinal)));
        Assert.True(host.IsAlive);
    }
}
