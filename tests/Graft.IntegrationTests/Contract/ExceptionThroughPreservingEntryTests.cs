using Graft.IntegrationTests.Support;
using Graft.Linux.Inspection;
using Graft.Linux.Tracing;
using Graft.Linux.Unwinding;
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

        // graft's unwinder, on the sleeper stopped inside the replacement (where it sleeps 50 ms of every call): the
        // stack reaches its caller through the entry.
        var frames = SleeperStack(throwing.Pid);
        output.WriteLine(string.Join('\n', frames));
        Assert.Contains(frames, f => f.Contains("graft_preserve", StringComparison.Ordinal));
        Assert.Contains(frames, f => f.Contains("sleeper", StringComparison.Ordinal));

        // The sleeper does not hold the revert up for long: at its next call of checked() its stack is clean, and its
        // dispatcher switches it.
        Assert.Null(patcher.Revert(throwing.Pid, "throwing-new", TimeSpan.FromSeconds(30)).InFlight);
        throwing.Write("release");

        Assert.Equal("value=10 negative=-2", Tail(throwing.NextLine(l => l.EndsWith("negative=-2", StringComparison.Ordinal))));
    }

    /// <summary>The stack, as graft's unwinder reads it, of the thread stopped inside the replacement; none found, empty.</summary>
    private static List<string> SleeperStack(int pid) => PtraceThread.Run(() =>
    {
        using var tracee = Tracee.Seize(pid);
        var unwinder = new StackUnwinder(ModuleMap.Read(pid, tracee.Memory), tracee.Memory);
        for (var attempt = 0; attempt < 100; attempt++)
        {
            foreach (var tid in tracee.ThreadIds.ToList())
            {
                Assert.True(tracee.Stop(tid, "test"));
                var stack = unwinder.Unwind(tid, tracee.GetRegisters(tid));
                tracee.Resume(tid);
                if (stack.Frames.Select(f => f.ToString()).ToList() is var frames && frames.Any(f => f.Contains("graft_preserve", StringComparison.Ordinal)))
                {
                    return frames;
                }
            }
        }

        return [];
    });

    private static string Tail(string tick) => tick[(tick.IndexOf(" value=", StringComparison.Ordinal) + 1)..];
}
