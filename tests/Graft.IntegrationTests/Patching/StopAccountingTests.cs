using System.Diagnostics;
using System.Text.Json;
using Graft.IntegrationTests.Support;
using Graft.Linux.Tracing;
using Graft.Patching;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// What a command reports its stops cost the target: every stop of a program thread, whatever
/// it was for, from attaching to detaching; and a --timeout that bounds the whole command.
/// </summary>
public sealed class StopAccountingTests
{
    // Far longer than loading the patch takes on the thread before it (a few hundred ms at worst
    // here, graft's code compiled on first use included), so that the callback is the longest stop.
    private const int CallbackSleepMilliseconds = 2000;

    /// <summary>
    /// counter has one thread, so it runs the injected dlopen and then the pre_patch callback,
    /// which sleeps inside the target: that thread is kept from its own code at least that long,
    /// and the report names the callback as the longest stop. Detaching stops it no more.
    /// </summary>
    [Fact]
    public void ACallbackOnTheOnlyThreadIsTheLongestStopAndSaysSo()
    {
        using var counter = RunningFixture.StartWithInput("counter",
            new Dictionary<string, string> { ["SLOW_PRE_PATCH_MS"] = CallbackSleepMilliseconds.ToString() });

        var apply = Shell.Graft("apply", counter.Pid.ToString(), Repository.Patch("slow_pre_patch"), "--json");

        Assert.Equal(0, apply.ExitCode);
        using var report = JsonDocument.Parse(apply.Stdout);
        var root = report.RootElement;
        Assert.True(root.GetProperty("longestStopMilliseconds").GetDouble() >= CallbackSleepMilliseconds, apply.Stdout);
        Assert.True(root.GetProperty("longestStopKind").GetString() == "callback", apply.Stdout);
        var kinds = root.GetProperty("stops").EnumerateArray().ToDictionary(k => k.GetProperty("kind").GetString()!);
        Assert.True(kinds["callback"].GetProperty("longestMilliseconds").GetDouble() >= CallbackSleepMilliseconds, apply.Stdout);
        Assert.True(kinds["load"].GetProperty("count").GetInt32() >= 1, apply.Stdout);

        // Its thread runs its own code when graft lets it go: the kernel detaches it as it runs, with no stop.
        Assert.False(kinds.ContainsKey("detach"), apply.Stdout);
        Ticks.Next(counter, 2, "slow");
    }

    /// <summary>
    /// Once a first apply has completed, counter has Graft's agent thread beside its own: the
    /// injected dlopen and the pre_patch callback of the next apply run on the agent, so the
    /// callback's sleep counts as a stop of the agent, and counter's thread is never stopped
    /// for the calls (no load, no callback stop).
    /// </summary>
    [Fact]
    public void OnceTheAgentRunsTheCallbackNoThreadOfTheProgramIsStoppedForIt()
    {
        using var counter = RunningFixture.StartWithInput("counter",
            new Dictionary<string, string> { ["SLOW_PRE_PATCH_MS"] = CallbackSleepMilliseconds.ToString() });
        var patcher = new NoticeLog().NewPatcher();
        patcher.Apply(counter.Pid, Repository.Patch("describe_new"), TimeSpan.FromSeconds(30));
        patcher.Revert(counter.Pid, "describe-new", TimeSpan.FromSeconds(30));

        var apply = Shell.Graft("apply", counter.Pid.ToString(), Repository.Patch("slow_pre_patch"), "--json");

        Assert.Equal(0, apply.ExitCode);
        using var report = JsonDocument.Parse(apply.Stdout);
        var root = report.RootElement;
        Assert.True(root.GetProperty("longestStopMilliseconds").GetDouble() < CallbackSleepMilliseconds, apply.Stdout);
        var kinds = root.GetProperty("stops").EnumerateArray().ToDictionary(k => k.GetProperty("kind").GetString()!);
        Assert.True(kinds[StopKinds.Agent].GetProperty("longestMilliseconds").GetDouble() >= CallbackSleepMilliseconds, apply.Stdout);
        Assert.False(kinds.ContainsKey("load"), apply.Stdout);
        Assert.False(kinds.ContainsKey("callback"), apply.Stdout);
        Ticks.Next(counter, 2, "slow");
    }

    /// <summary>
    /// hot's workers call hot() all the time, so they run into the int3s graft writes at its
    /// entry while it checks each thread outside the bytes: those waits are stops too.
    /// </summary>
    [Fact]
    public void TrapWaitsAreCountedAsStops()
    {
        using var hot = RunningFixture.Start("hot", "4");
        var patcher = new NoticeLog().NewPatcher();

        var report = patcher.Apply(hot.Pid, Repository.Patch("hot_new"), TimeSpan.FromSeconds(60));

        Assert.Null(report.InFlight);
        Assert.True(report.Stops.TrapsHandled > 0);
        var traps = Assert.Single(report.Stops.Kinds, k => k.Kind == StopKinds.Trap);
        Assert.True(traps.Count > 0);
        Assert.True(report.Stops.LongestStop >= traps.Longest);
    }

    /// <summary>
    /// A pre_patch callback that sleeps far past --timeout: the command gives up at the timeout,
    /// puts the thread back, rolls back and exits 3, and the target runs its code as before.
    /// </summary>
    [Fact]
    public void TheTimeoutBoundsACallbackAndRollsBack()
    {
        using var counter = RunningFixture.StartWithInput("counter", new Dictionary<string, string> { ["SLOW_PRE_PATCH_MS"] = "60000" });
        var before = TargetText.Read(counter.Pid);
        const int timeoutSeconds = 2;

        var clock = Stopwatch.StartNew();
        var apply = Shell.Graft("apply", counter.Pid.ToString(), Repository.Patch("slow_pre_patch"), "--timeout", timeoutSeconds.ToString());
        var took = clock.Elapsed;

        Assert.Equal(3, apply.ExitCode);
        Assert.Contains("timeout", apply.Stderr, StringComparison.Ordinal);

        // A hang guard, not a performance figure: without the bound the call ran on for 10 s and failed otherwise.
        Assert.True(took < TimeSpan.FromSeconds(5 * timeoutSeconds), $"the apply took {took.TotalSeconds:0.0} s");
        Assert.Empty(Graft.Patching.Operations.Patcher.List(counter.Pid).Patches);
        before.AssertCodeUnchanged(counter.Pid);

        // A rolled-back apply starts no agent thread: counter has its one thread.
        Assert.Single(Directory.GetDirectories($"/proc/{counter.Pid}/task"));
        Ticks.Next(counter, 2, "old");
    }
}
