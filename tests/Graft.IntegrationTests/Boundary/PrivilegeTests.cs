using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Boundary;

/// <summary>
/// Only root, or a user holding CAP_SYS_PTRACE, may change a process's code: owning the process
/// is not enough, and graftd answers root alone. A refusal is one line, exit code 5, and the
/// process exactly as it was.
/// </summary>
public sealed class PrivilegeTests : IDisposable
{
    private const int Nobody = 65534;
    private static readonly string[] AsNobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];
    private readonly string directory = Directory.CreateTempSubdirectory("graft-privilege-").FullName;

    [Theory]
    [InlineData("apply")]
    [InlineData("revert")]
    [InlineData("continue")]
    [InlineData("unload")]
    public void AUserWhoOnlyOwnsTheProcessMayNotChangeIt(string command)
    {
        using var counter = StartAsNobody();
        var before = TargetText.Read(counter.Pid);
        var pid = counter.Pid.ToString();
        string[] arguments = command switch
        {
            "apply" => [command, pid, Repository.Patch("describe_new")],
            "continue" => [command, pid],
            _ => [command, pid, "describe-new"],
        };

        var result = Shell.Run("setpriv", [.. AsNobody, Published.Graft, .. arguments]);

        Assert.Equal(5, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"graft: error: graft {command} needs root or CAP_SYS_PTRACE: graft runs as uid {Nobody} without it", line);
        before.AssertUnchanged(counter.Pid);
        Ticks.Next(counter, 2, "old");
    }

    /// <summary>The capability is what counts, not the uid: the same user with CAP_SYS_PTRACE applies and reverts.</summary>
    [Fact]
    public void AUserWithCapSysPtraceMayPatch()
    {
        using var counter = StartAsNobody();
        string[] withPtrace = [.. AsNobody, "--inh-caps=+sys_ptrace", "--ambient-caps=+sys_ptrace", Published.Graft];

        var apply = Shell.Run("setpriv", [.. withPtrace, "apply", counter.Pid.ToString(), Repository.Patch("describe_new")]);
        Assert.True(apply.ExitCode == 0, $"graft apply exited {apply.ExitCode}: {apply.Stderr}");
        Ticks.Next(counter, 2, "new");

        var revert = Shell.Run("setpriv", [.. withPtrace, "revert", counter.Pid.ToString(), "describe-new"]);
        Assert.True(revert.ExitCode == 0, $"graft revert exited {revert.ExitCode}: {revert.Stderr}");
        Ticks.Next(counter, 2, "old");
    }

    /// <summary>
    /// graftd's socket admits root alone by its mode; a socket that another user can reach all the same
    /// (here made so on purpose) still gets them a refusal, even for a command that only reads.
    /// </summary>
    [Fact]
    public void GraftdRefusesARequestFromAnotherUserThanRoot()
    {
        using var counter = RunningFixture.Start("counter");
        var socket = Path.Combine(directory, "graftd.sock");
        using var graftd = GraftdProcess.Start(socket, Path.Combine(directory, "graftd.journal"));
        Shell.Run("chmod", "755", directory);
        Shell.Run("chmod", "666", socket);

        var result = Shell.Run(new Dictionary<string, string> { ["GRAFTD_SOCKET"] = socket }, "setpriv",
            [.. AsNobody, Published.Graft, "status", counter.Pid.ToString()]);

        Assert.Equal(5, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"graft: error: graftd takes requests from root only; uid {Nobody} asked", line);
        graftd.WaitForJournal(l => l.Contains($"refused: status process {counter.Pid} asked by uid {Nobody} (pid ", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5));
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>A counter that nobody owns, checked: the refusals above mean nothing for a process of root's.</summary>
    private static RunningFixture StartAsNobody()
    {
        var counter = RunningFixture.StartProgram("/usr/bin/setpriv", [.. AsNobody, Repository.Fixture("counter")]);
        var uid = File.ReadLines($"/proc/{counter.Pid}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        if (int.Parse(uid.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]) != Nobody)
        {
            counter.Dispose();
            Assert.Fail($"the counter runs as {uid}, not as nobody");
        }

        return counter;
    }
}
