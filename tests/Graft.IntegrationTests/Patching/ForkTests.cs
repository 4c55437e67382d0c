using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Patching;

/// <summary>A child forked while a transition is in flight is settled before it runs, never left half-way.</summary>
public sealed class ForkTests
{
    [Fact]
    public void ChildForkedDuringTheTransitionEndsPatched()
    {
        using var forker = RunningFixture.Start("forker");
        var pid = forker.Pid.ToString();

        // The worker in slow_path() keeps the transition in flight while the main thread forks.
        var result = GraftProcess.Run(
            ["apply", pid, Repository.Patch("slow_path"), "--timeout", "60"],
            when: l => l.EndsWith("starting patching transition", StringComparison.Ordinal),
            act: _ =>
            {
                forker.Signal("USR2");
                forker.WaitForLine(l => l.StartsWith("child ", StringComparison.Ordinal) && l.EndsWith(" ready", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
                forker.Signal("USR1");
            });

        Assert.Equal(0, result.ExitCode);
        var child = int.Parse(forker.WaitForLine(l => l.StartsWith("forked ", StringComparison.Ordinal), TimeSpan.FromSeconds(10)).Split(' ')[1]);
        Assert.Contains($"graft: 'slow-path': child {child}, forked during the transition, settled patched", result.Stderr);
        forker.WaitForLine(l => l.StartsWith("child-tick ", StringComparison.Ordinal) && l.EndsWith(" new", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal(Model.State.PatchPhase.Patched, Assert.Single(Patcher.List(child).Patches).Phase);
        Assert.Null(new Patcher(_ => { }).Status(child));
    }
}
