using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// A thread a signal interrupted inside the bytes an entry jump covers must leave them before Graft writes them
/// (CodeWriter.MoveThreadsOutOf): the pc its signal frame keeps is moved to the same instruction's copy in the slot.
/// </summary>
public sealed class EntryWindowTests
{
    /// <summary>
    /// parked's worker is held inside pair()'s window by a handler that calls f() back to back for 3 s, so that Graft's
    /// looks at it nearly always find it where the int3 at f's entry sends it, the first byte of f's dispatcher: slot
    /// code, without unwind rules. Before the looks unwound such a thread from f's entry, the signal frame was found
    /// only by a look that happened to stop it elsewhere; under load none did, and the apply gave up after 2 s ("kept a
    /// word pointing into a function entry being rewritten"), as a CI run of pair's 100 cycles did. Three applies, each
    /// begun while the worker is parked.
    /// </summary>
    [Fact]
    public void AThreadWhoseHandlerCallsPatchedCodeBackToBackIsMovedOutOfTheWindowItWasInterruptedIn()
    {
        using var parked = RunningFixture.Start("parked", "3");
        var patcher = new NoticeLog().NewPatcher();
        parked.WaitForLine(l => l == "parked", TimeSpan.FromSeconds(10));
        var moved = 0;
        for (var cycle = 0; cycle < 3; cycle++)
        {
            var report = patcher.Apply(parked.Pid, Repository.Patch("pair_new"), TimeSpan.FromSeconds(30));

            Assert.Null(report.InFlight);
            moved += report.Transition.ThreadsMoved;
            Assert.Null(patcher.Revert(parked.Pid, "pair-new", TimeSpan.FromSeconds(30)).InFlight);
            parked.NextLine(l => l == "parked");
        }

        Assert.True(moved >= 1, "no apply moved a thread out of a window");
        var last = parked.NextLine(l => l.StartsWith("stat ", StringComparison.Ordinal));
        Assert.Contains(" bad=0", last, StringComparison.Ordinal);
        Assert.DoesNotContain(" v22=0 ", last, StringComparison.Ordinal);
        Assert.True(parked.IsAlive);
    }
}
