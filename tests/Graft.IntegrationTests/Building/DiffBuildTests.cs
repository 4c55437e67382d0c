using System.Text.Json;
using System.Text.RegularExpressions;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Building;

/// <summary>
/// graft build --source --diff --binary on the ledger fixture (tests/fixtures/ledger, a make
/// project built -O2 -g): the patch carries exactly the functions the fix changes or adds, fixes
/// the running program and reverts; a binary built otherwise, and data changes, are refused.
/// </summary>
public sealed partial class DiffBuildTests : IDisposable
{
    private static readonly string Source = Path.Combine(Repository.Root, "tests", "fixtures", "ledger");
    private readonly string work = Directory.CreateTempSubdirectory("graft-diff-test-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void ThePatchFromTheDiffFixesTheRunningProgramAndRevertBringsTheOldBehaviourBack()
    {
        var binary = BuildLedger("original", "make");
        var patch = Path.Combine(work, "fix.so");

        var built = GraftBuild("fix", binary, patch);

        Assert.True(built.ExitCode == 0, built.Stderr);
        Assert.Contains("graft: build: score.o: score: replaced: its code changed", built.Stderr, StringComparison.Ordinal);
        Assert.Contains("graft: build: score.o: bounded: added: added by the diff", built.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(": weight:", built.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(": grade:", built.Stderr, StringComparison.Ordinal);
        Assert.Contains("graft: build: score.o: average: kept: only line numbers the diff moves differ (47 -> 53): the running code is kept", built.Stderr, StringComparison.Ordinal);

        using var ledger = RunningFixture.StartProgram(binary);
        AssertScores(ledger, Old);
        var applied = Shell.Graft("apply", ledger.Pid.ToString(), patch);
        Assert.True(applied.ExitCode == 0, applied.Stderr);
        AssertScores(ledger, Fixed);
        var reverted = Shell.Graft("revert", ledger.Pid.ToString(), "fix");
        Assert.True(reverted.ExitCode == 0, reverted.Stderr);
        AssertScores(ledger, Old);
        Assert.True(ledger.IsAlive);
    }

    /// <summary>
    /// An executable is patched as the process's main program, whatever name the build was given it by: Debian's
    /// /usr/bin/redis-server is a symlink, and the process's maps name the file it points to (redis-check-rdb).
    /// </summary>
    [Fact]
    public void AnExecutableGivenThroughASymlinkIsPatchedInTheProcessThatRunsIt()
    {
        var binary = BuildLedger("original", "make");
        var link = Path.Combine(work, "ledger-by-another-name");
        File.CreateSymbolicLink(link, binary);
        var patch = Path.Combine(work, "fix.so");

        var built = GraftBuild("fix", link, patch);

        Assert.True(built.ExitCode == 0, built.Stderr);
        using var ledger = RunningFixture.StartProgram(binary);
        var applied = Shell.Graft("apply", ledger.Pid.ToString(), patch);
        Assert.True(applied.ExitCode == 0, applied.Stderr);
        AssertScores(ledger, Fixed);
        Assert.Equal(0, Shell.Graft("revert", ledger.Pid.ToString(), "fix").ExitCode);
        AssertScores(ledger, Old);
    }

    [Fact]
    public void TheAuthorsCallbacksFileRunsItsCallbacksInTheTargetAndOneThatRefusesKeepsTheOldCode()
    {
        var binary = BuildLedger("original", "make");
        var log = Path.Combine(work, "callbacks.log");
        var callbacks = Path.Combine(work, "fix-callbacks.c");
        File.WriteAllText(callbacks, $$"""
            #include <stdio.h>
            #include <stdlib.h>
            #include <graft.h>

            static void note(const char *what)
            {
                FILE *f = fopen("{{log}}", "a");
                fprintf(f, "%s\n", what);
                fclose(f);
            }

            int pre_patch(struct graft_object *obj)
            {
                note("pre_patch");
                return getenv("LEDGER_REFUSE") ? -1 : 0;
            }

            void post_unpatch(struct graft_object *obj)
            {
                note("post_unpatch");
            }
            """);
        var patch = Path.Combine(work, "fix.so");

        var built = Shell.Graft("build", "--source", Source, "--diff", Path.Combine(Source, "fix.patch"), "--binary", binary, "-o", patch, "--callbacks", callbacks);

        Assert.True(built.ExitCode == 0, built.Stderr);
        using (var ledger = RunningFixture.StartProgram(binary))
        {
            Assert.Equal(0, Shell.Graft("apply", ledger.Pid.ToString(), patch).ExitCode);
            AssertScores(ledger, Fixed);
            Assert.Equal(0, Shell.Graft("revert", ledger.Pid.ToString(), "fix").ExitCode);
            AssertScores(ledger, Old);
        }

        // Only the callbacks the file defines run; the others are NULL.
        Assert.Equal(["pre_patch", "post_unpatch"], File.ReadAllLines(log));

        File.Delete(log);
        using var refusing = RunningFixture.StartProgram(binary, new Dictionary<string, string> { ["LEDGER_REFUSE"] = "1" });
        var refused = Shell.Graft("apply", refusing.Pid.ToString(), patch);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("was not applied: the pre-patch callback of object", refused.Stderr, StringComparison.Ordinal);
        AssertScores(refusing, Old);
        Assert.Equal(["pre_patch"], File.ReadAllLines(log));
    }

    [Fact]
    public void AFixToAnInlinedHelperReplacesItsCallerWhichKeepsUsingTheProgramsStaticVariables()
    {
        var binary = BuildLedger("original", "make");
        var patch = Path.Combine(work, "inlined.so");

        var built = GraftBuild("inlined", binary, patch);

        Assert.True(built.ExitCode == 0, built.Stderr);
        Assert.Equal(["graft: build: score.o: grade: replaced: its code changed"], built.Stderr.Split('\n').Where(l => l.Contains(": replaced: ", StringComparison.Ordinal)));
        Assert.DoesNotContain("level", built.Stderr, StringComparison.Ordinal);
        using var ledger = RunningFixture.StartProgram(binary);
        ledger.NextLine(l => l.Contains(" grade=high/", StringComparison.Ordinal)); // scores past 50 from the sixth tick on
        Assert.Equal(0, Shell.Graft("apply", ledger.Pid.ToString(), patch).ExitCode);

        // The new grade formats the binary's own counter (asked) into the binary's own buffer (text.0).
        var patched = TickPattern().Match(ledger.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal)));
        Assert.Equal($"grade=low/{patched.Groups[1].Value} bonus=7", patched.Groups[3].Value);
        Assert.Equal(0, Shell.Graft("revert", ledger.Pid.ToString(), "inlined").ExitCode);
        Assert.Contains(" grade=high/", ledger.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    /// <summary>
    /// total keeps a value in registers clamp leaves alone (-fipa-ra, on at -O2): a fix that makes clamp call
    /// fprintf changes total's code too, though the diff leaves total's source as it was. The old total would
    /// lose its value in the new clamp, so both are replaced, and the proof holds for both.
    /// </summary>
    [Fact]
    public void ACallerWhoseRegisterUseChangedWithItsCalleesIsReplacedToo()
    {
        var binary = BuildLedger("original", "make");
        var patch = Path.Combine(work, "ipa_ra.so");

        var built = GraftBuild("ipa_ra", binary, patch);

        Assert.True(built.ExitCode == 0, built.Stderr);
        Assert.Equal(
            ["graft: build: total.o: clamp: replaced: its code changed", "graft: build: total.o: total: replaced: its code changed"],
            built.Stderr.Split('\n').Where(l => l.Contains(": replaced: ", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        using var ledger = RunningFixture.StartProgram(binary);
        Assert.Equal(0, Shell.Graft("apply", ledger.Pid.ToString(), patch).ExitCode);
        AssertScores(ledger, Old);
        Assert.Equal(0, Shell.Graft("revert", ledger.Pid.ToString(), "ipa_ra").ExitCode);
    }

    /// <summary>
    /// average differs only in the line its CHECK names, which the diff moves: it is kept as it runs, and the new grade
    /// calls it. The proof that the binary's average is what the new code was compiled against (-fipa-ra) takes
    /// average as the original build has it, since a moved line changes no register.
    /// </summary>
    [Fact]
    public void NewCodeCallsAFunctionWhoseOnlyChangeIsAMovedLineAndTheRunningOneIsKept()
    {
        var binary = BuildLedger("original", "make");
        var patch = Path.Combine(work, "moved_callee.so");

        var built = GraftBuild("moved_callee", binary, patch);

        Assert.True(built.ExitCode == 0, built.Stderr);
        Assert.Contains("graft: build: score.o: grade: replaced: its code changed", built.Stderr, StringComparison.Ordinal);
        Assert.Contains("graft: build: score.o: average: kept: only line numbers the diff moves differ (47 -> 48): the running code is kept",
            built.Stderr, StringComparison.Ordinal);
        using var ledger = RunningFixture.StartProgram(binary);
        Assert.Equal(0, Shell.Graft("apply", ledger.Pid.ToString(), patch).ExitCode);
        ledger.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && l.Contains("/avg=", StringComparison.Ordinal));
        Assert.Equal(0, Shell.Graft("revert", ledger.Pid.ToString(), "moved_callee").ExitCode);
        ledger.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && !l.Contains("/avg=", StringComparison.Ordinal));
        Assert.True(ledger.IsAlive);
    }

    [Fact]
    public void InfoShowsTheReplacedFunctionAndTheBuildIdOfTheBinaryItMatches()
    {
        var binary = BuildLedger("original", "make");
        var patch = Path.Combine(work, "fix.so");
        Assert.Equal(0, GraftBuild("fix", binary, patch).ExitCode);

        var info = Shell.Graft("info", patch, "--json");

        Assert.Equal(0, info.ExitCode);
        using var document = JsonDocument.Parse(info.Stdout);
        var obj = Assert.Single(document.RootElement.GetProperty("objects").EnumerateArray());
        Assert.Equal(BuildId(binary), obj.GetProperty("buildId").GetString());
        Assert.Equal(["score"], obj.GetProperty("functions").EnumerateArray().Select(f => f.GetProperty("oldName").GetString()));
        Assert.Equal(["asked", "weight"], document.RootElement.GetProperty("localSymbols").EnumerateArray().Select(l => l.GetProperty("name").GetString()).Order());
    }

    [Theory]
    [InlineData("make CFLAGS='-O1 -g'")]
    [InlineData("sed -i 's/v \\* 10/v * 11/' score.c && make")]
    public void ABinaryBuiltWithOtherFlagsOrFromOtherSourceIsRefusedNamingTheFunction(string build)
    {
        var binary = BuildLedger("other", build);

        var result = GraftBuild("fix", binary, Path.Combine(work, "fix.so"));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{binary} is not the binary the source describes: function 'score' (score.c) differs from the original build", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(work, "fix.so")));
    }

    [Theory]
    [InlineData("initial_value", "score.o: the initial value of 'bonus' changes")]
    [InlineData("layout", "score.o: 'asked' changes size from 8 to 16 bytes")]
    public void ADiffThatChangesDataIsRefusedSayingWhich(string diff, string message)
    {
        var binary = BuildLedger("original", "make");

        var result = GraftBuild(diff, binary, Path.Combine(work, "fix.so"));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
    }

    private static int Old(int v) => (v * 10) - (v % 5);

    private static int Fixed(int v) => (v * 10) + Math.Min(v % 5, 3);

    /// <summary>Waits for ticks whose input tells the two versions apart (v % 5 is not 0), and checks their scores.</summary>
    private static void AssertScores(RunningFixture ledger, Func<int, int> expected)
    {
        for (int seen = 0; seen < 3;)
        {
            var match = TickPattern().Match(ledger.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal)));
            var v = int.Parse(match.Groups[1].Value);
            if (v % 5 != 0)
            {
                Assert.Equal(expected(v), int.Parse(match.Groups[2].Value));
                seen++;
            }
        }
    }

    /// <summary>Builds a copy of the ledger the way a user would, with <paramref name="command"/>; returns the executable.</summary>
    private string BuildLedger(string name, string command)
    {
        var tree = Path.Combine(work, name);
        Assert.Equal(0, Shell.Run("cp", "-a", Source + "/.", tree).ExitCode);
        var built = Shell.Run("/bin/sh", "-c", $"cd '{tree}' && rm -f *.o ledger && nice -n 10 sh -c \"$0\"", command);
        Assert.True(built.ExitCode == 0, built.Stdout + built.Stderr);
        return Path.Combine(tree, "ledger");
    }

    private static Shell.Result GraftBuild(string diff, string binary, string patch) =>
        Shell.Graft("build", "--source", Source, "--diff", Path.Combine(Source, diff + ".patch"), "--binary", binary, "-o", patch);

    private static string BuildId(string path) =>
        Graft.Elf.ElfFile.Load(path).BuildId ?? throw new InvalidOperationException($"{path} has no build-id");

    [GeneratedRegex(@"^tick (\d+) score=(-?\d+) (.*)$")]
    private static partial Regex TickPattern();
}
