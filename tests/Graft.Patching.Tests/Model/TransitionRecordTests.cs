using Graft.Model.State;

namespace Graft.Patching.Tests.Model;

/// <summary>What each step of a transition does to the state record, checked on records alone.</summary>
public sealed class TransitionRecordTests
{
    private static readonly SlotPage PageA = new(0x10000, 0x1000, "/usr/bin/app");
    private static readonly SlotPage PageB = new(0x20000, 0x1000, "/usr/lib/libx.so");

    [Fact]
    public void StartHeadsThePatchForItsGoalAndLeavesTheOthersAlone()
    {
        var (below, patch) = (Patch("below", PatchPhase.Patched, Function("f", 0x10000)), Patch("fix", PatchPhase.Patched, Function("f", 0x10140)));
        var state = State([below, patch], [PageA]);

        var (patching, heading) = TransitionRecord.Start(state, patch, patching: true);
        var (unpatching, _) = TransitionRecord.Start(state, patch, patching: false);

        Assert.Equal(PatchPhase.Patching, heading.Phase);
        Assert.Equal([PatchPhase.Patched, PatchPhase.Patching], patching.Patches.Select(p => p.Phase));
        Assert.Equal(PatchPhase.Unpatching, unpatching.FindPatch("fix")!.Phase);
        Assert.Same(heading, patching.InTransition);
    }

    [Fact]
    public void StartRefusesASecondTransitionAndAPatchNotInTheRecord()
    {
        var inFlight = Patch("first", PatchPhase.Patching, Function("f", 0x10000));
        var other = Patch("second", PatchPhase.Patched, Function("g", 0x10140));
        var state = State([inFlight, other], [PageA]);

        Assert.Throws<InvalidOperationException>(() => TransitionRecord.Start(state, other, patching: true));
        Assert.Throws<ArgumentException>(() => TransitionRecord.Start(state, Patch("stranger", PatchPhase.Patched), patching: true));
    }

    [Fact]
    public void CompletePatchingDropsNopsDisablesTheReplacedPatchesAndPrunesTheirPages()
    {
        var old = Patch("old", PatchPhase.Patched, Function("g", 0x20000));
        var cumulative = Patch("cumulative", PatchPhase.Patching, Function("f", 0x10000), Function("g", 0x10140) with { IsNop = true }) with { Replace = true };
        var state = State([old, cumulative], [PageA, PageB]);

        var (done, unused) = TransitionRecord.CompletePatching(state, cumulative);

        var patched = Assert.Single(done.Patches);
        Assert.Equal(PatchPhase.Patched, patched.Phase);
        Assert.Equal(["f"], patched.Functions.Select(f => f.Name));
        var disabled = Assert.Single(done.Disabled);
        Assert.Equal("old", disabled.Name);
        Assert.Empty(disabled.Functions);
        Assert.Equal([PageA], done.SlotPages);
        Assert.Equal([PageB], unused);
    }

    [Fact]
    public void CompletePatchingOfAnOrdinaryPatchKeepsThePatchesBelow()
    {
        var below = Patch("below", PatchPhase.Patched, Function("g", 0x20000));
        var patch = Patch("fix", PatchPhase.Patching, Function("f", 0x10000));

        var (done, unused) = TransitionRecord.CompletePatching(State([below, patch], [PageA, PageB]), patch);

        Assert.Equal(["below", "fix"], done.Patches.Select(p => p.Name));
        Assert.Empty(done.Disabled);
        Assert.Empty(unused);
    }

    [Fact]
    public void CompleteUnpatchingDisablesThePatchAndReturnsThePagesOnlyItUsed()
    {
        var below = Patch("below", PatchPhase.Patched, Function("f", 0x10000));
        var patch = Patch("fix", PatchPhase.Unpatching, Function("f", 0x10140), Function("h", 0x20000));

        var (done, unused) = TransitionRecord.CompleteUnpatching(State([below, patch], [PageA, PageB]), patch);

        Assert.Equal(["below"], done.Patches.Select(p => p.Name));
        Assert.Equal("fix", Assert.Single(done.Disabled).Name);
        Assert.Equal(PatchPhase.Patched, done.Disabled[0].Phase);
        Assert.Equal([PageA], done.SlotPages);
        Assert.Equal([PageB], unused);
    }

    [Fact]
    public void ForceMarksThePatchSoThatItIsNeverUnloaded()
    {
        var patch = Patch("fix", PatchPhase.Patching, Function("f", 0x10000));

        var (state, forced) = TransitionRecord.Force(State([patch], [PageA]), patch);

        Assert.True(forced.Forced);
        Assert.True(state.FindPatch("fix")!.Forced);
    }

    [Fact]
    public void WithoutInterruptedTakesOutTheLoadingPatchesAndTheirPages()
    {
        var applied = Patch("applied", PatchPhase.Patched, Function("f", 0x10000));
        var interrupted = Patch("interrupted", PatchPhase.Loading, Function("g", 0x20000));

        var (remaining, gone) = TransitionRecord.WithoutInterrupted(State([applied, interrupted], [PageA, PageB]));

        Assert.Equal(["interrupted"], gone.Select(p => p.Name));
        Assert.Equal(["applied"], remaining.State.Patches.Select(p => p.Name));
        Assert.Equal([PageA], remaining.State.SlotPages);
        Assert.Equal([PageB], remaining.UnusedPages);
    }

    [Fact]
    public void AChildSettledPatchedKeepsEveryPageAndOneSettledUnpatchedIsLeftLoading()
    {
        var old = Patch("old", PatchPhase.Patched, Function("g", 0x20000));
        var cumulative = Patch("cumulative", PatchPhase.Patching, Function("f", 0x10000)) with { Replace = true };
        var state = State([old, cumulative], [PageA, PageB]);

        var patched = TransitionRecord.SettleChild(state, cumulative, patched: true);
        var unpatched = TransitionRecord.SettleChild(state, cumulative, patched: false);

        // The replaced patch's code stays mapped in the child: its pages stay recorded.
        Assert.Equal([PageA, PageB], patched.SlotPages);
        Assert.Equal(["cumulative"], patched.Patches.Select(p => p.Name));
        Assert.Equal([PatchPhase.Patched, PatchPhase.Loading], unpatched.Patches.Select(p => p.Phase));
    }

    private static TargetState State(IReadOnlyList<AppliedPatch> patches, IReadOnlyList<SlotPage> pages) =>
        new(TargetState.CurrentVersion, patches, pages);

    private static AppliedPatch Patch(string name, PatchPhase phase, params PatchedFunction[] functions) =>
        new(phase, name, $"/patches/{name}.so", null, 0x7f0000000000, 0x7f0000000000, 0x7f0000010000, DateTimeOffset.UnixEpoch, functions, []);

    /// <summary>A function redirected through the slot at <paramref name="slot"/>.</summary>
    private static PatchedFunction Function(string name, ulong slot) =>
        new(name, 0, "/usr/bin/app", 0x401000 + (ulong)name[0], 32, 0x401000 + (ulong)name[0], "e9000000000000", slot, 0x7f0000001000);
}
