using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// docs/ARCHITECTURE.md's invariant 2 under load: pair() = f()*10 + g(), 11 old and 22 new.
/// Worker threads and a 200 µs timer signal handler on each of them (signal handlers are the
/// kernel's NMIs here: they can run patched code at any instruction) call pair() all the time;
/// a thread that ran old f() and new g() in one call would see 12 or 21.
/// </summary>
[Trait(Traits.Category, Traits.Stress)]
public sealed class ConsistencyUnderFireTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Only a sweep can switch onstack's workers (see below), which it does when it stops one outside pair() and outside
    // a handler, a few per cent of the time: an operation takes 4-7 s on average (docs/PERFORMANCE.md, item 16), and once in a
    // CI run one took more than 30 s.
    private static readonly TimeSpan SweptOnlyTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public void HundredApplyRevertCyclesNeverMixVersions()
    {
        using var pair = RunningFixture.Start("pair", "3");
        var patcher = new NoticeLog().NewPatcher();

        var last = CyclesNeverMixVersions(pair, patcher, cycles: 100);
        Assert.True(long.Parse(Field(last, "handler")) > 0, $"no handler ran pair(): {last}");
    }

    /// <summary>
    /// The handlers run on an alternate signal stack that lies inside the worker's own stack (pair's "onstack"), where
    /// the stack bounds Graft wrote hold the handler's rsp but not the frames it interrupted: a dispatcher that switched
    /// its thread there (say, interrupted in spin() below the old pair()) would give 12 or 21. Outside handlers the
    /// workers' scans find old pcs in the stale signal frames the array keeps, so the sweeps switch them.
    /// </summary>
    [Fact]
    public void HandlersOnAnAlternateStackInsideTheThreadsOwnNeverMixVersions()
    {
        using var pair = RunningFixture.Start("pair", "3", "onstack");
        var patcher = new NoticeLog().NewPatcher();

        var last = CyclesNeverMixVersions(pair, patcher, cycles: 30, SweptOnlyTimeout);
        Assert.True(long.Parse(Field(last, "handler")) > 0, $"no handler ran pair(): {last}");
    }

    /// <summary>
    /// Workers fork from inside pair(), between f() and g() (pair's "fork"), while threads switch themselves and Graft
    /// sweeps: each child is a copy of its worker alone, stopped at the fork event before it runs, with pair()'s frame on
    /// its stack and its table entry copied as the worker last wrote it. Whatever universe Graft settles the child in
    /// (<c>Transition.SettleChild</c>), the call that forked must end in the code it began in, and the child's 20 later
    /// calls must give 11 or 22: a child that exits otherwise, or dies, counts as bad in its parent.
    /// </summary>
    [Fact]
    public void ChildrenForkedFromInsideThePatchedFunctionNeverMixVersions()
    {
        using var pair = RunningFixture.Start("pair", "3", "fork");
        var log = new NoticeLog();
        var patcher = log.NewPatcher();
        var before = long.Parse(Field(pair.NextLine(l => l.StartsWith("stat ", StringComparison.Ordinal)), "forks"));

        var last = CyclesNeverMixVersions(pair, patcher, cycles: 30);
        Assert.True(long.Parse(Field(last, "forks")) > before, $"no worker forked: {last}");
        Assert.Contains(log.Lines, l => l.Contains("forked during the transition, settled", StringComparison.Ordinal));
    }

    /// <summary>
    /// Threads are born all the time (pair's "churn": every 200 µs, each calling pair() 50 times) by a spawner that sleeps
    /// in nanosleep() between two creations, so that Graft often looks at it without a stop, and a thread it creates comes
    /// while Graft sweeps, proposes to sleeping threads and writes entries: each new thread starts in its creator's
    /// universe and never mixes versions.
    /// </summary>
    [Fact]
    public void ThreadsBornDuringTheTransitionsNeverMixVersions()
    {
        using var pair = RunningFixture.Start("pair", "2", "churn");
        var patcher = new NoticeLog().NewPatcher();
        var before = long.Parse(Field(pair.NextLine(l => l.StartsWith("stat ", StringComparison.Ordinal)), "born"));

        var last = CyclesNeverMixVersions(pair, patcher, cycles: 30);
        Assert.True(long.Parse(Field(last, "born")) > before, $"no thread was born: {last}");
    }

    /// <summary>Applies and reverts pair-new <paramref name="cycles"/> times; then pair lives, saw no mix and ran the new pair(). Returns its last stat line.</summary>
    private static string CyclesNeverMixVersions(RunningFixture pair, Graft.Patching.Operations.Patcher patcher, int cycles, TimeSpan? timeout = null)
    {
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            Assert.Null(patcher.Apply(pair.Pid, Repository.Patch("pair_new"), timeout ?? Timeout).InFlight);
            Assert.Null(patcher.Revert(pair.Pid, "pair-new", timeout ?? Timeout).InFlight);
        }

        var last = pair.NextLine(l => l.StartsWith("stat ", StringComparison.Ordinal));
        Assert.True(pair.IsAlive);
        Assert.True(Field(last, "bad") == "0", $"{last}; {pair.Lines().FirstOrDefault(l => l.StartsWith("bad-value ", StringComparison.Ordinal))}");
        Assert.True(long.Parse(Field(last, "v22")) > 0, $"the new pair() never ran: {last}");
        return last;
    }

    private static string Field(string line, string name) =>
        line.Split(' ').Single(f => f.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];
}
