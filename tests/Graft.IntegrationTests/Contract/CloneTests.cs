using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Contract;

/// <summary>
/// clones (gcc -O2 -g): only scale.constprop.0 is left of scale(), describe() shares its address with an alias, and
/// mix() is inlined into main(). A patch may name the clone; naming scale() is refused with the clone's name; sharing
/// code and inlined copies (read from DWARF) are warned about before anything changes.
/// </summary>
public sealed class CloneTests
{
    [Fact]
    public void APatchNamesTheCloneAndIsWarnedThatTheCodeItReplacesHasAnotherName()
    {
        using var clones = RunningFixture.Start("clones");
        var log = new NoticeLog();

        var report = log.NewPatcher().Apply(clones.Pid, Repository.Patch("clones_new"), TimeSpan.FromSeconds(30));

        string[] warnings =
        [
            "'describe' in clones shares its code with 'describe_alias' (identical code folding, or an alias): patching it changes them too",
            "'mix' in clones is inlined into main, whose copies keep the old code whatever this patch does; replace those functions too",
        ];
        Assert.Equal(warnings, report.Warnings);
        Assert.All(warnings, w => Assert.Contains($"warning: {w}", log.Lines));
        var tick = clones.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && l.Contains(" describe=new ", StringComparison.Ordinal));
        Assert.Equal(1000 + (Ticks.Number(tick) % 7), long.Parse(Ticks.Field(tick, 2)["scaled=".Length..]));
        Assert.Null(log.NewPatcher().Revert(clones.Pid, "clones-new", TimeSpan.FromSeconds(30)).InFlight);
    }

    [Fact]
    public void NamingAFunctionOfWhichOnlyACloneIsLeftIsRefusedWithTheClonesName()
    {
        using var clones = RunningFixture.Start("clones");

        var failure = Assert.Throws<GraftException>(() =>
            new NoticeLog().NewPatcher().Apply(clones.Pid, Repository.Patch("clones_plain"), TimeSpan.FromSeconds(30)));

        Assert.Equal(GraftFailure.Refused, failure.Failure);
        Assert.EndsWith("; the compiler made copies of it, which a patch may name: scale.constprop.0", failure.Message, StringComparison.Ordinal);
    }
}
