using Graft.IntegrationTests.Support;
using Graft.Linux.Tracing;

namespace Graft.IntegrationTests.Unwinding;

/// <summary>The unwinder agrees with gdb's bt on the same stopped threads of several fixtures, frame by frame.</summary>
public sealed class UnwinderAgreesWithGdbTests
{
    private const int BusySnapshots = 10;

    /// <summary>
    /// Fixture, and whether to freeze it with SIGSTOP first. stacks' threads are blocked for
    /// good, so gdb, attaching after Graft has left, finds them where Graft did; the other
    /// fixtures have busy threads, which only a job-control stop holds still across both tools
    /// (it also unwinds them at arbitrary instructions, not just at syscalls).
    /// </summary>
    public static TheoryData<string, bool> Fixtures => new()
    {
        { "stacks", false },
        { "stacks", true },
        { "blocker", true },
        { "counter", true },
        { "signals", true },
    };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EveryThreadUnwindsToTheFramesGdbFinds(string name, bool freeze)
    {
        using var fixture = Start(name);
        var (graft, gdb) = AssertUnwindsAgree(fixture, name, freeze);
        if (name == "stacks")
        {
            // T3 waits inside a SIGUSR1 handler: its unwind must cross __restore_rt, and find
            // where the signal frame keeps the interrupted pc (CodeWriter moves it from there).
            Assert.Single(gdb.Values, stack => stack.Frames.Any(frame => frame.IsSignalTrampoline));
            var interrupted = Assert.Single(graft.Stacks.Values.SelectMany(stack => stack.Frames.Skip(1)), frame => frame.IsExact);
            using var memory = new RemoteMemory(fixture.Pid);
            Assert.Equal(interrupted.Pc, memory.ReadUInt64(Assert.NotNull(interrupted.PcSavedAt)));
        }
    }

    /// <summary>
    /// signals' handler thread spins in work() and handler_thread(): frozen again and again, it
    /// is caught at whatever instruction it is at (the signal frame itself is stacks' T3's job:
    /// a job-control stop rarely lands inside the tiny SIGRTMIN handler).
    /// </summary>
    [Fact]
    public void BusyThreadsUnwindToTheFramesGdbFindsWhereverTheyAreStopped()
    {
        using var fixture = Start("signals");
        for (var snapshot = 0; snapshot < BusySnapshots; snapshot++)
        {
            AssertUnwindsAgree(fixture, $"signals, snapshot {snapshot}", freeze: true);
            fixture.Signal("CONT");
            fixture.NextLine(line => line.StartsWith("stat ", StringComparison.Ordinal));
        }
    }

    private static RunningFixture Start(string name)
    {
        // signals' sender stops only once this file exists; it never will.
        var neverCreated = Path.Combine(Path.GetTempPath(), $"graft-test-no-stop-{Guid.NewGuid():N}");
        return RunningFixture.Start(name, name == "signals" ? [neverCreated] : []);
    }

    private static (GraftStacks Graft, IReadOnlyDictionary<int, GdbStack> Gdb) AssertUnwindsAgree(RunningFixture fixture, string what, bool freeze)
    {
        if (freeze)
        {
            JobControl.Stop(fixture);
        }

        var threads = JobControl.Threads(fixture.Pid);
        var graft = GraftStacks.Read(fixture.Pid);
        Assert.Equal(threads, graft.Stacks.Keys.Order());
        if (freeze)
        {
            // Graft seizes a group-stopped process and, detaching, leaves it stopped: the kernel
            // wakes each detached thread only to put it back into group-stop. That it ran no code
            // meanwhile shows below, as the busy threads' pcs still match.
            JobControl.AwaitGroupStop(fixture.Pid, "Graft detached");
        }

        var gdb = GdbStack.ReadAll(fixture.Pid);
        Assert.Equal(threads, gdb.Keys.Order());
        var disagreements = threads
            .Select(tid => new StackComparison(graft.Stacks[tid], gdb[tid], graft.Symbolize))
            .Where(comparison => !comparison.Agree)
            .ToList();
        Assert.True(disagreements.Count == 0, $"{what}: Graft's unwinder and gdb disagree on {disagreements.Count} of {threads.Count} threads\n{string.Join('\n', disagreements)}");
        return (graft, gdb);
    }
}
