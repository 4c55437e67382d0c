using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Cli;

/// <summary>A transition left in flight by the CLI: its exit code, graft status, and graft continue from a new process.</summary>
public sealed class TransitionCliTests
{
    [Fact]
    public void ApplyLeavesTheTransitionInFlightAndStatusAndContinueTakeItUp()
    {
        using var blocker = RunningFixture.Start("blocker");
        var pid = blocker.Pid.ToString();

        var apply = Shell.Graft("apply", pid, Repository.Patch("slow_path"), "--timeout", "1");

        Assert.Equal(7, apply.ExitCode);
        Assert.Contains($"the transition stays in flight: 'graft continue {pid}' resumes it", apply.Stderr);
        Assert.Matches(@"^apply\tslow-path\t\d+\t\d+\tper-thread\t", apply.Stdout);
        var status = Shell.Graft("status", pid);
        Assert.Equal(0, status.ExitCode);
        var lines = status.Stdout.Split('\n');
        Assert.Equal("transition\tslow-path\tpatching\t1\t2", lines[0]);
        Assert.Matches(@"^stuck\t\d+\tis running slow_path \(0x[0-9a-f]+ slow_path\+0x[0-9a-f]+ ", lines[1]);
        Assert.Contains(lines, l => l.StartsWith("frame\t", StringComparison.Ordinal) && l.Contains(" worker+", StringComparison.Ordinal));

        blocker.Signal("USR1");
        blocker.WaitForLine(l => l == "worker done", TimeSpan.FromSeconds(10));
        var resumed = Shell.Graft("continue", pid);

        Assert.Equal(0, resumed.ExitCode);
        Assert.Contains("'slow-path': patching complete", resumed.Stderr);
        var none = Shell.Graft("status", pid);
        Assert.Equal("", none.Stdout);
        Assert.Equal($"process {pid}: no transition in flight", none.Stderr.Trim());
        Assert.Equal(2, Shell.Graft("continue", pid).ExitCode);
    }
}
