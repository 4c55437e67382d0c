using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Patching;

/// <summary>Patches change what a running fixture does; reverting brings the old behaviour back; the process never restarts.</summary>
public sealed class ApplyRevertTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Fact]
    public void PatchChangesOutputAndRevertRestoresItInTheSameProcess()
    {
        using var counter = RunningFixture.Start("counter");
        var log = new NoticeLog();
        var patcher = log.NewPatcher();
        var before = Ticks.Next(counter, 2, "old");

        patcher.Apply(counter.Pid, Repository.Patch("describe_new"), Timeout);
        var patched = Ticks.Next(counter, 2, "new");
        patcher.Revert(counter.Pid, "describe-new", Timeout);
        var reverted = Ticks.Next(counter, 2, "old");

        Assert.True(counter.IsAlive);
        Assert.True(Ticks.Number(before) < Ticks.Number(patched), "the counter went on counting");
        Assert.True(Ticks.Number(patched) < Ticks.Number(reverted), "the counter went on counting");
        Assert.Equal(
            [
                "enabling patch 'describe-new'",
                "'describe-new': initializing patching transition",
                "'describe-new': starting patching transition",
                "'describe-new': completing patching transition",
                "'describe-new': patching complete",
                "'describe-new': initializing unpatching transition",
                "'describe-new': starting unpatching transition",
                "'describe-new': completing unpatching transition",
                "'describe-new': unpatching complete",
            ],
            log.Lines);
    }

    [Fact]
    public void RevertRestoresTheOriginalCodeByteForByte()
    {
        using var counter = RunningFixture.Start("counter");
        var patcher = new NoticeLog().NewPatcher();
        var original = TargetText.Read(counter.Pid);

        patcher.Apply(counter.Pid, Repository.Patch("describe_new"), Timeout);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => original.AssertCodeUnchanged(counter.Pid));
        patcher.Revert(counter.Pid, "describe-new", Timeout);

        original.AssertCodeUnchanged(counter.Pid);
        Assert.Empty(Patcher.List(counter.Pid).Patches);
    }

    [Fact]
    public void PatchOfAHundredFunctionsGetsSlotsOnSeveralPagesNearTheExecutable()
    {
        // 100 slots take 7 pages: more than one page per free gap of the memory map near the code.
        using var many = RunningFixture.Start("many");
        var patcher = new NoticeLog().NewPatcher();
        var original = TargetText.Read(many.Pid);
        Ticks.Next(many, 2, "5250");

        patcher.Apply(many.Pid, Repository.Patch("many_new"), Timeout);
        Ticks.Next(many, 2, "105250");
        patcher.Revert(many.Pid, "many-new", Timeout);
        Ticks.Next(many, 2, "5250");

        original.AssertCodeUnchanged(many.Pid);
    }

    [Fact]
    public void FunctionInALoadedSharedLibraryIsPatched()
    {
        using var counter = RunningFixture.Start("counter");
        var patcher = new NoticeLog().NewPatcher();
        Ticks.Next(counter, 4, "hello");

        patcher.Apply(counter.Pid, Repository.Patch("lib_greeting"), Timeout);
        Ticks.Next(counter, 4, "patched-hello");
        patcher.Revert(counter.Pid, "lib-greeting", Timeout);
        Ticks.Next(counter, 4, "hello");
    }

    [Fact]
    public void PatchCodeCallsAStaticFunctionAndReadsAStaticVariableOfTheTarget()
    {
        using var counter = RunningFixture.Start("counter");
        var patcher = new NoticeLog().NewPatcher();

        patcher.Apply(counter.Pid, Repository.Patch("uses_locals"), Timeout);

        // secret = 42 and scramble(42) = 127 exist only as local symbols of the fixture.
        Ticks.Next(counter, 2, "local-42-127");
        patcher.Revert(counter.Pid, "uses-locals", Timeout);
        Ticks.Next(counter, 2, "old");
    }

    [Fact]
    public void PatchReachedThroughASymbolicLinkIsFoundInTheTarget()
    {
        using var counter = RunningFixture.Start("counter");
        var link = Path.Combine(Path.GetTempPath(), $"graft-link-{Guid.NewGuid():N}.so");
        File.CreateSymbolicLink(link, Repository.Patch("describe_new"));
        var patcher = new NoticeLog().NewPatcher();

        patcher.Apply(counter.Pid, link, Timeout);
        Ticks.Next(counter, 2, "new");
        patcher.Revert(counter.Pid, "describe-new", Timeout);

        File.Delete(link);
        Ticks.Next(counter, 2, "old");
    }

    [Fact]
    public void OldSymposPicksOneOfTwoStaticFunctionsOfTheSameName()
    {
        using var twins = RunningFixture.Start("twins");
        var patcher = new NoticeLog().NewPatcher();

        patcher.Apply(twins.Pid, Repository.Patch("twin_b"), Timeout);

        twins.NextLine(l => l.EndsWith(" a-old b-new", StringComparison.Ordinal));
        patcher.Revert(twins.Pid, "twin-b", Timeout);
        twins.NextLine(l => l.EndsWith(" a-old b-old", StringComparison.Ordinal));
    }

    [Fact]
    public void TwoPatchesOnDifferentFunctionsCoexist()
    {
        using var counter = RunningFixture.Start("counter");
        var patcher = new NoticeLog().NewPatcher();

        patcher.Apply(counter.Pid, Repository.Patch("describe_new"), Timeout);
        patcher.Apply(counter.Pid, Repository.Patch("lib_greeting"), Timeout);
        counter.NextLine(l => l.EndsWith(" new 1 patched-hello", StringComparison.Ordinal));
        Assert.Equal(["describe-new", "lib-greeting"], Patcher.List(counter.Pid).Patches.Select(p => p.Name));

        patcher.Revert(counter.Pid, "describe-new", Timeout);
        counter.NextLine(l => l.EndsWith(" old 1 patched-hello", StringComparison.Ordinal));
        patcher.Revert(counter.Pid, "lib-greeting", Timeout);
        counter.NextLine(l => l.EndsWith(" old 1 hello", StringComparison.Ordinal));
    }
}
