using System.Text.Json;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Cli;

/// <summary>The graft command as an operator runs it: each call a new process; state lives in the target.</summary>
public sealed class CliTests
{
    [Fact]
    public void ListAndRevertFromNewGraftProcessesSeeWhatAnEarlierOneApplied()
    {
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();

        var apply = Shell.Graft("apply", pid, Repository.Patch("describe_new"));
        Assert.Equal(0, apply.ExitCode);
        Assert.Contains("graft: 'describe-new': patching complete", apply.Stderr);

        var list = Shell.Graft("list", pid, "--json");
        Assert.Equal(0, list.ExitCode);
        using (var state = JsonDocument.Parse(list.Stdout))
        {
            var patch = Assert.Single(state.RootElement.GetProperty("patches").EnumerateArray());
            Assert.Equal("describe-new", patch.GetProperty("name").GetString());
            Assert.Equal("describe", Assert.Single(patch.GetProperty("functions").EnumerateArray()).GetProperty("name").GetString());
        }

        Ticks.Next(counter, 2, "new");
        var revert = Shell.Graft("revert", pid, "describe-new");
        Assert.Equal(0, revert.ExitCode);
        Assert.Contains("graft: 'describe-new': unpatching complete", revert.Stderr);
        Ticks.Next(counter, 2, "old");
        Assert.Contains("no patches applied", Shell.Graft("list", pid).Stderr);
    }

    [Fact]
    public void RefusalIsOneLineOnStderrWithItsExitCode()
    {
        using var counter = RunningFixture.Start("counter");

        var result = Shell.Graft("apply", counter.Pid.ToString(), Repository.Patch("missing_symbol"));

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        var error = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("graft: error:", StringComparison.Ordinal));
        Assert.Contains("no_such_function", error);
    }

    /// <summary>A user who may not read a process gets one line and exit code 5 from the commands that only read it too
    /// (list read the map before attaching, and died with an unhandled exception).</summary>
    [Theory]
    [InlineData("list")]
    [InlineData("status")]
    public void AProcessGraftMayNotReadIsRefusedInOneLineWithExitCode5(string command)
    {
        using var counter = RunningFixture.Start("counter");

        var result = Shell.Run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", Published.Graft, command, counter.Pid.ToString());

        Assert.Equal(5, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("graft: error: not permitted to ", line, StringComparison.Ordinal);
        Assert.Contains($"process {counter.Pid}", line, StringComparison.Ordinal);
    }

    /// <summary>A pid that is not a number is a usage error with its reason (list died of an unhandled exception, exit 134).</summary>
    [Theory]
    [InlineData("list", "abc")]
    [InlineData("list", "-5")]
    [InlineData("status", "abc")]
    public void APidThatIsNotANumberIsAUsageError(string command, string pid)
    {
        var result = Shell.Graft(command, pid);

        Assert.Equal(1, result.ExitCode);
        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
        Assert.Contains($"'{pid}'", result.Stderr.Split('\n')[0], StringComparison.Ordinal);
    }

    /// <summary>A mistyped command or option is answered with the name it was probably meant to be, and a word near no name with none.</summary>
    [Theory]
    [InlineData("list", "lsit")]
    [InlineData("status", "stauts")]
    [InlineData("--timeout", "apply", "1", "fix.so", "--tmeout", "3")]
    [InlineData(null, "xyzzy")]
    public void AMistypedNameIsAnsweredWithTheNameItWasProbablyMeantToBe(string? meant, params string[] arguments)
    {
        var result = Shell.Graft(arguments);

        Assert.Equal(1, result.ExitCode);
        var lines = result.Stderr.Split('\n');
        if (meant is null)
        {
            Assert.DoesNotContain("Did you mean", result.Stderr, StringComparison.Ordinal);
            return;
        }

        var asked = Array.FindIndex(lines, l => l.Contains("Did you mean", StringComparison.Ordinal));
        Assert.True(asked >= 0, result.Stderr);
        Assert.Equal(meant, lines[asked + 1]);
    }

    [Fact]
    public void InterruptedApplyRollsBackAndLeavesTheTargetAsItWas()
    {
        using var blocker = RunningFixture.Start("blocker");
        var before = TargetText.Read(blocker.Pid);
        var graft = GraftProcess.Run(
            ["apply", blocker.Pid.ToString(), Repository.Patch("slow_path"), "--timeout", "120", "--consistency", "stop-world"],
            line => line.Contains("starting patching transition", StringComparison.Ordinal),
            // Now it is waiting for the thread in slow_path to leave: interrupt it as Ctrl-C would.
            process => Shell.Run("kill", "-INT", process.Id.ToString()));

        Assert.Equal(6, graft.ExitCode);
        Assert.Contains(graft.Stderr, l => l.StartsWith("graft: error: interrupted", StringComparison.Ordinal));
        before.AssertCodeUnchanged(blocker.Pid);
        Assert.Contains("no patches applied", Shell.Graft("list", blocker.Pid.ToString()).Stderr);
        Assert.DoesNotContain(File.ReadAllLines($"/proc/{blocker.Pid}/maps"), l => l.Contains("graft-patch:slow-path", StringComparison.Ordinal));
    }

    [Fact]
    public void NextGraftUndoesWhatAKilledOneLeftBehind()
    {
        using var blocker = RunningFixture.Start("blocker");
        var pid = blocker.Pid.ToString();
        GraftProcess.Run(
            ["apply", pid, Repository.Patch("slow_path"), "--timeout", "120", "--consistency", "stop-world"],
            line => line.Contains("starting patching transition", StringComparison.Ordinal),
            // Loaded, waiting for the thread in slow_path: the worst moment to die.
            process => process.Kill());

        using (var left = JsonDocument.Parse(Shell.Graft("list", pid, "--json").Stdout))
        {
            var patch = Assert.Single(left.RootElement.GetProperty("patches").EnumerateArray());
            Assert.Equal("loading", patch.GetProperty("phase").GetString());
        }

        Assert.Contains(File.ReadAllLines($"/proc/{pid}/maps"), l => l.Contains("graft-patch:slow-path", StringComparison.Ordinal));
        var apply = Shell.Graft("apply", pid, Repository.Patch("describe_new"));

        Assert.True(apply.ExitCode == 0, apply.Stderr);
        Assert.Contains("graft: 'slow-path': unloading what an interrupted apply left behind", apply.Stderr);
        Assert.DoesNotContain(File.ReadAllLines($"/proc/{pid}/maps"), l => l.Contains("graft-patch:slow-path", StringComparison.Ordinal));
        Ticks.Next(blocker, 2, "new");
        using var now = JsonDocument.Parse(Shell.Graft("list", pid, "--json").Stdout);
        Assert.Equal("describe-new", Assert.Single(now.RootElement.GetProperty("patches").EnumerateArray()).GetProperty("name").GetString());
    }

    [Fact]
    public void DemoPatchesItsServiceLiveAndRevertsIt()
    {
        var demo = Shell.Graft("demo", "--phase", "0.5");

        Assert.True(demo.ExitCode == 0, demo.Stderr + demo.Stdout);
        var requests = demo.Stdout.Split('\n').Where(l => l.Contains("parse_len(", StringComparison.Ordinal)).ToList();
        var fixedAt = requests.FindIndex(l => l.Contains("= 12 (expected 12)", StringComparison.Ordinal));
        Assert.True(fixedAt > 0, demo.Stdout);
        Assert.Contains("= 11 (expected 12)", requests[0]);
        Assert.Contains("= 11 (expected 12)", requests[^1]);
        Assert.Contains("patching complete", demo.Stdout);
        Assert.Contains("unpatching complete", demo.Stdout);
    }

    [Fact]
    public void TargetCarriesOnWhenGraftIsKilledInsideItsDlopen()
    {
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();
        GraftProcess.Run(
            ["apply", pid, Repository.Patch("slow_constructor")],
            line => line.Contains("initializing patching transition", StringComparison.Ordinal),
            process =>
            {
                // The patch's constructor keeps dlopen busy for 1.5 s: die in the middle of it.
                Thread.Sleep(500);
                process.Kill();
            });

        // The borrowed thread finishes dlopen, returns through its signal frame and goes on.
        Thread.Sleep(1500);
        var after = counter.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal));
        Assert.True(counter.IsAlive);
        Assert.Equal("old", Ticks.Field(after, 2));

        var apply = Shell.Graft("apply", pid, Repository.Patch("describe_new"));
        Assert.True(apply.ExitCode == 0, apply.Stderr);
        Assert.Contains("graft: 'slow-constructor': unloading what an interrupted apply left behind", apply.Stderr);
        Assert.DoesNotContain(File.ReadAllLines($"/proc/{pid}/maps"), l => l.Contains("graft-patch:slow-constructor", StringComparison.Ordinal));
        Ticks.Next(counter, 2, "new");
    }

    [Fact]
    public void ADlopenPastTheTimeoutRunsOnAndTheNextApplyUnloadsItOnceItHasReturned()
    {
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();

        // The patch's constructor keeps dlopen busy for 1.5 s, three times the timeout.
        var late = Shell.Graft("apply", pid, Repository.Patch("slow_constructor"), "--timeout", "0.5");

        Assert.True(late.ExitCode == 3, late.Stderr);
        Assert.Contains("the patch stays recorded as loading", late.Stderr);

        // graft has gone, the constructor still runs: put back in the middle of dlopen, its thread would hold the
        // loader's lock for ever, and the image would be unmapped under it.
        Assert.Contains(File.ReadAllLines($"/proc/{pid}/maps"), l => l.Contains("graft-patch:slow-constructor", StringComparison.Ordinal));

        // At once: the next apply waits for the dlopen to return, then unloads what it left.
        var apply = Shell.Graft("apply", pid, Repository.Patch("describe_new"));
        Assert.True(apply.ExitCode == 0, apply.Stderr);
        Assert.Contains("graft: 'slow-constructor': unloading what an interrupted apply left behind", apply.Stderr);
        Assert.DoesNotContain(File.ReadAllLines($"/proc/{pid}/maps"), l => l.Contains("graft-patch:slow-constructor", StringComparison.Ordinal));
        Ticks.Next(counter, 2, "new");
        Assert.True(counter.IsAlive);
    }

    [Fact]
    public void RevertOfAPatchThatIsNotAppliedIsRefused()
    {
        using var counter = RunningFixture.Start("counter");

        var result = Shell.Graft("revert", counter.Pid.ToString(), "nothing-here");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"patch 'nothing-here' is not applied to process {counter.Pid}", result.Stderr);
    }

    [Fact]
    public void InfoPrintsWhatThePatchReplacesAndTheBuildIdsItRequires()
    {
        var info = Shell.Graft("info", Repository.Patch("wrong_build_id"), "--json");

        Assert.Equal(0, info.ExitCode);
        using var document = JsonDocument.Parse(info.Stdout);
        var root = document.RootElement;
        Assert.Equal("wrong-build-id", root.GetProperty("name").GetString());
        var obj = Assert.Single(root.GetProperty("objects").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, obj.GetProperty("name").ValueKind);
        Assert.Equal(new string('0', 40), obj.GetProperty("buildId").GetString());
        Assert.Equal("describe", Assert.Single(obj.GetProperty("functions").EnumerateArray()).GetProperty("oldName").GetString());

        var text = Shell.Graft("info", Repository.Patch("uses_locals"));
        Assert.Contains("local\tsecret\t(main executable)\t0\n", text.Stdout);
        Assert.Contains("local\tscramble\t(main executable)\t0\n", text.Stdout);
    }

    [Fact]
    public void BuildMakesAPatchThatApplies()
    {
        var directory = Directory.CreateTempSubdirectory("graft-build-").FullName;
        var source = Path.Combine(directory, "fix.c");
        File.WriteAllText(source, """
            #include <graft.h>
            static const char *describe_built(unsigned long n) { (void)n; return "built"; }
            static struct graft_func funcs[] = { { .old_name = "describe", .new_func = describe_built }, { } };
            static struct graft_object objs[] = { { .name = NULL, .funcs = funcs }, { } };
            static struct graft_patch patch = { .name = "built", .objs = objs };
            GRAFT_PATCH(patch);
            """);
        var output = Path.Combine(directory, "fix.so");
        using var counter = RunningFixture.Start("counter");

        var build = Shell.Graft("build", source, "-o", output);
        var apply = Shell.Graft("apply", counter.Pid.ToString(), output);

        Assert.True(build.ExitCode == 0, build.Stderr);
        Assert.True(apply.ExitCode == 0, apply.Stderr);
        Ticks.Next(counter, 2, "built");
        Directory.Delete(directory, recursive: true);
    }
}
