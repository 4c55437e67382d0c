using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Boundary;

/// <summary>
/// A process stopped by job control (kill -STOP, Ctrl-Z) is refused at once, whatever the
/// operation, and left stopped and byte-identical; once continued it runs as before.
/// </summary>
public sealed class StoppedTargetTests
{
    [Theory]
    [InlineData("apply", "per-thread")]
    [InlineData("apply", "stop-world")]
    [InlineData("revert", "per-thread")]
    [InlineData("revert", "stop-world")]
    [InlineData("continue", "per-thread")]
    public void StoppedTargetIsRefusedAndStaysStoppedAndUnchanged(string command, string model)
    {
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();
        if (command == "revert")
        {
            Assert.Equal(0, Shell.Graft("apply", pid, Repository.Patch("describe_new")).ExitCode);
            Ticks.Next(counter, 2, "new");
        }

        counter.Signal("STOP");
        WaitForState(counter.Pid, 'T');
        var before = TargetText.Read(counter.Pid);

        string[] arguments = command switch
        {
            "apply" => ["apply", pid, Repository.Patch("describe_new"), "--consistency", model, "--timeout", "3"],
            "revert" => ["revert", pid, "describe-new", "--consistency", model, "--timeout", "3"],
            _ => ["continue", pid, "--timeout", "3"],
        };
        var result = Shell.Graft(arguments);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"graft: error: process {pid} is stopped (SIGSTOP, SIGTSTP or Ctrl-Z); graft changes nothing in a stopped process and left it stopped: resume it with `kill -CONT {pid}`, then run graft again",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        AssertStaysStopped(counter.Pid);
        before.AssertUnchanged(counter.Pid);

        counter.Signal("CONT");
        Ticks.Next(counter, 2, command == "revert" ? "new" : "old");
    }

    [Fact]
    public void TargetStoppedWhileGraftWaitsIsRolledBackWithinTheTimeoutAndStaysStopped()
    {
        using var hot = RunningFixture.Start("hot", "4");
        var before = TargetText.Read(hot.Pid);

        // Every worker is always inside hot(): a stop-world apply waits for a safe moment
        // that never comes, and the target is stopped meanwhile.
        var graft = GraftProcess.Run(
            ["apply", hot.Pid.ToString(), Repository.Patch("hot_new"), "--consistency", "stop-world", "--timeout", "3"],
            line => line.Contains("starting patching transition", StringComparison.Ordinal),
            _ => hot.Signal("STOP"));

        // If the stop caught the main thread inside printf, it cannot run the rollback's dlclose, and a worker that
        // never allocated gets a malloc arena from it: graft names that arena, the one thing it may leave.
        Assert.Equal(3, graft.ExitCode);
        AssertStaysStopped(hot.Pid);
        before.AssertUnchangedBesides(hot.Pid, ArenaWarnings.In(graft.Stderr));
        hot.Signal("CONT");
        hot.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && l.Contains(" new=0 ", StringComparison.Ordinal));
        Assert.True(hot.IsAlive);
    }

    /// <summary>
    /// graft lets its tracees go by ending its tracing thread, and the kernel wakes each to stop again for the group
    /// stop (__ptrace_unlink): for a moment after graft exits a thread may show R. A process graft had resumed would
    /// not come back to T by itself, nor stay there.
    /// </summary>
    private static void AssertStaysStopped(int pid)
    {
        WaitForState(pid, 'T');
        Thread.Sleep(100);
        Assert.Equal('T', State(pid));
    }

    private static char State(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..][0];
    }

    private static void WaitForState(int pid, char state)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (State(pid) != state)
        {
            Assert.True(DateTime.UtcNow < deadline, $"process {pid} never reached state {state}");
            Thread.Sleep(10);
        }
    }
}
