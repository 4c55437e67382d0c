using Graft.IntegrationTests.Support;
using Graft.Patching;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.Contract;

/// <summary>
/// throwing (g++ -O2): checked() is a leaf, so its replacement is reached through graft_preserve. An exception the
/// replacement throws must unwind through that entry to the caller's catch; gdb and graft's own unwinder must walk
/// through it from a thread inside the replacement to that thread's caller.
/// </summary>
public sealed class ExceptionThroughPreservingEntryTests(ITestOutputHelper output)
{
    [Fact]
    public void TheCallerCatchesWhatTheReplacementThrowsAndStacksWalkThroughTheEntry()
    {
        using var throwing = RunningFixture.StartWithInput("throwing", new Dictionary<string, string>());
        var patcher = new NoticeLog().NewPatcher();

        var report = patcher.Apply(throwing.Pid, Repository.Patch("throwing_new"), TimeSpan.FromSeconds(30));

        Assert.True(Assert.Single(report.Functions).Entry?.Preserving);

        // checked() writes no memory, calls nothing and cannot throw: gcc may have found it const and nothrow. This
        // caller kept its landing pad (checked() is in another translation unit), but graft cannot know that.
        Assert.Equal(
            [
                "'_Z7checkedi' writes no memory and calls nothing, so its callers' compiler may have found it pure and folded, merged or moved calls to it; "
                    + "the replacement has side effects, which such a call site will not see",
                "'_Z7checkedi' cannot throw, so its callers' compiler may have left their call sites without a landing pad; "
                    + "an exception the replacement throws past them ends the process in std::terminate",
            ],
            report.Warnings);
        Assert.Equal("value=10 negative=caught:negative input", Tail(throwing.NextLine(l => l.Contains("caught:", StringComparison.Ordinal))));

        // gdb, attached after graft has gone: the sleeper's stack runs from nanosleep through the replacement and
        // graft_preserve up to sleeper() and the thread's start.
        var gdb = Shell.Run("gdb", "-p", throwing.Pid.ToString(), "-batch", "-ex", "thread apply all bt");
        var sleeper = gdb.Stdout.Split("\nThread ").FirstOrDefault(t => t.Contains("graft_preserve", StringComparison.Ordinal));
        output.WriteLine(sleeper ?? gdb.Stdout);
        Assert.NotNull(sleeper);
        Assert.Matches(@"graft_preserve[\s\S]*sleeper[\s\S]*start_thread", sleeper);

        // graft's unwinder, on a revert held up by that thread: the stack it reports reaches the caller too.
        var inFlight = patcher.Revert(throwing.Pid, "throwing-new", TimeSpan.FromMilliseconds(300)).InFlight;
        Assert.NotNull(inFlight);
        var stuck = Assert.Single(inFlight.Stuck);
        output.WriteLine(string.Join('\n', stuck.Stack));
        Assert.Contains("code of patch 'throwing-new'", stuck.Reason, StringComparison.Ordinal);
        Assert.Contains(stuck.Stack, f => f.Contains("graft_preserve", StringComparison.Ordinal));
        Assert.Contains(stuck.Stack, f => f.Contains("sleeper", StringComparison.Ordinal));
        throwing.Write("release");
        Assert.Null(patcher.Continue(throwing.Pid, TimeSpan.FromSeconds(30)).InFlight);

        Assert.Equal("value=10 negative=-2", Tail(throwing.NextLine(l => l.EndsWith("negative=-2", StringComparison.Ordinal))));
    }

    private static string Tail(string tick) => tick[(tick.IndexOf(" value=", StringComparison.Ordinal) + 1)..];
}
