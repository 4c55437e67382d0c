using System.Text.Json;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Cli;

/// <summary>
/// graft apply --all, revert --all and list --all on processes of a program each test compiles
/// with a build-id of its own, so that --all reaches this test's processes and no other.
/// </summary>
public sealed class HostCliTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("graft-host-").FullName;

    [Fact]
    public void ApplyAllReachesEveryProcessOfThePinnedBuildAndNoOther()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "pinned");
        var other = AnswerPrograms.BuildProgram(directory, "other");
        using var first = RunningFixture.StartProgram(program);
        using var second = RunningFixture.StartProgram(program);
        using var unrelated = RunningFixture.StartProgram(other);

        var apply = Shell.Graft("apply", "--all", patch);

        Assert.True(apply.ExitCode == 0, apply.Stdout + apply.Stderr);
        var lines = apply.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([$"process {first.Pid} (program): applied", $"process {second.Pid} (program): applied"], lines[..^1].Select(l => l.Split(" 'answer-43'")[0]));
        Assert.Equal("apply 'answer-43': 2 process(es): 2 applied", lines[^1].Split(';')[0]);
        first.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal));
        second.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal));
        Assert.Contains("no patches applied", Shell.Graft("list", unrelated.Pid.ToString()).Stderr);

        var again = Shell.Graft("apply", "--all", patch);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("2 process(es): 2 already applied", again.Stdout);

        using (var listed = JsonDocument.Parse(Shell.Graft("list", "--all", "--json").Stdout))
        {
            var patched = listed.RootElement.GetProperty("processes").EnumerateArray()
                .Where(p => p.GetProperty("state").GetProperty("patches").EnumerateArray().Any(a => a.GetProperty("name").GetString() == "answer-43"))
                .Select(p => p.GetProperty("pid").GetInt32());
            Assert.Equal([first.Pid, second.Pid], patched.Order());
        }

        var revert = Shell.Graft("revert", "--all", "answer-43");
        Assert.True(revert.ExitCode == 0, revert.Stdout + revert.Stderr);
        Assert.Contains("revert 'answer-43': 2 process(es): 2 reverted", revert.Stdout);
        first.NextLine(l => l.StartsWith("tick 42", StringComparison.Ordinal));
    }

    [Fact]
    public void AProcessThatRefusesDoesNotStopTheOthersAndTheExitCodeSaysSo()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "refusing");
        using var first = RunningFixture.StartProgram(program);
        using var stopped = RunningFixture.StartProgram(program);
        using var last = RunningFixture.StartProgram(program);
        stopped.Signal("STOP");

        var apply = Shell.Graft("apply", "--all", patch, "--json");
        stopped.Signal("CONT");

        Assert.Equal(10, apply.ExitCode);
        using var document = JsonDocument.Parse(apply.Stdout);
        var outcomes = document.RootElement.GetProperty("processes").EnumerateArray()
            .ToDictionary(p => p.GetProperty("pid").GetInt32(), p => (Outcome: p.GetProperty("outcome").GetString(), Code: p.GetProperty("exitCode").GetInt32()));
        Assert.Equal(("applied", 0), outcomes[first.Pid]);
        Assert.Equal(("failed", 2), outcomes[stopped.Pid]);
        Assert.Equal(("applied", 0), outcomes[last.Pid]);
        Assert.Equal(1, document.RootElement.GetProperty("failed").GetInt32());
        last.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal));
        Assert.Contains("no patches applied", Shell.Graft("list", stopped.Pid.ToString()).Stderr);
        Assert.Equal(0, Shell.Graft("revert", "--all", "answer-43").ExitCode);
    }

    [Fact]
    public void WithGraftdRunningEachProcessIsDoneThroughIt()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "graftd");
        var socket = Path.Combine(directory, "graftd.sock");
        using var graftd = GraftdProcess.Start(socket, Path.Combine(directory, "graftd.journal"));
        using var first = RunningFixture.StartProgram(program);
        using var second = RunningFixture.StartProgram(program);

        var apply = Shell.GraftVia(socket, "apply", "--all", patch);

        Assert.True(apply.ExitCode == 0, apply.Stdout + apply.Stderr);
        Assert.Contains("apply 'answer-43': 2 process(es): 2 applied", apply.Stdout);
        Assert.All(new[] { first.Pid, second.Pid }, pid => Assert.Contains(graftd.ReadJournal(), l => l.Contains($"process {pid}", StringComparison.Ordinal)));
        second.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal));
        var revert = Shell.GraftVia(socket, "revert", "--all", "answer-43");
        Assert.True(revert.ExitCode == 0, revert.Stdout + revert.Stderr);
        first.NextLine(l => l.StartsWith("tick 42", StringComparison.Ordinal));
    }

    [Fact]
    public void BadInputIsOneErrorAndTouchesNoProcess()
    {
        using var counter = RunningFixture.Start("counter");

        var unpinned = Shell.Graft("apply", "--all", Repository.Patch("describe_new"));
        var mismatched = Shell.Graft("apply", "--object", Repository.Fixture("counter"), Repository.Patch("wrong_build_id"));

        Assert.Equal(2, unpinned.ExitCode);
        Assert.Contains("graft: error: patch 'describe-new' pins no build-id", unpinned.Stderr);
        Assert.Equal(2, mismatched.ExitCode);
        Assert.Contains("graft: error: build-id mismatch for", mismatched.Stderr);
        Assert.Contains("no patches applied", Shell.Graft("list", counter.Pid.ToString()).Stderr);
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);
}
