using Graft.X86.Tests.Native;

using static Graft.X86.ThreadTableLayout;
using static Iced.Intel.AssemblerRegisters;

namespace Graft.X86.Tests;

/// <summary>
/// The dispatcher's self-switch, run natively: a known thread not yet in the goal universe looks at its own stack, from
/// the return address up, and switches itself when no word points into a blocked range. The old target returns a + b,
/// the new one a + 2b; the caller is native code on a stack of the rig's own, whose return address is the word the stub
/// finds at rsp.
/// </summary>
public sealed unsafe class DispatcherSelfSwitchTests : IDisposable
{
    private const int OldResult = 7;
    private const int NewResult = 11;

    // A range no word on the rig's stack points into.
    private static readonly (ulong Start, ulong End) Elsewhere = (0x10_0000, 0x20_0000);

    private readonly DispatcherRig _rig = new(
        oldTarget: assembler =>
        {
            assembler.lea(eax, __[rdi + rsi]);
            assembler.ret();
        },
        newTarget: assembler =>
        {
            assembler.lea(eax, __[rdi + (rsi * 2)]);
            assembler.ret();
        },
        caller: (assembler, stub) =>
        {
            assembler.mov(edi, 3);
            assembler.mov(esi, 4);
            assembler.call(stub);
        },
        callerOnOwnStack: true);

    private readonly int _home;

    public DispatcherSelfSwitchTests()
    {
        _home = HomeIndex(_rig.CurrentThreadPointer());
        _rig.SetDefaultUniverse(OldUniverse);
        _rig.SetSelfSwitch(NewUniverse);
    }

    public void Dispose()
    {
        _rig.Dispose();
    }

    [Fact]
    public void AThreadWithACleanStackSwitchesItselfToTheGoal()
    {
        _rig.SetEntry(_home, _rig.CurrentThreadPointer(), OldUniverse, _rig.OwnStack);
        _rig.SetRanges(Elsewhere);

        Assert.Equal(NewResult, CallThroughCaller());
        Assert.Equal(NewUniverse, _rig.UniverseAt(_home));
        Assert.NotEqual(0u, _rig.LastCheckAt(_home));
    }

    [Fact]
    public void AReturnAddressIntoABlockedRangeKeepsItBackUntilItIsGone()
    {
        _rig.SetEntry(_home, _rig.CurrentThreadPointer(), OldUniverse, _rig.OwnStack);
        _rig.SetRanges(Elsewhere, (_rig.Caller, _rig.Caller + 0x100));

        Assert.Equal(OldResult, CallThroughCaller());
        Assert.Equal(OldUniverse, _rig.UniverseAt(_home));

        // It looked, and says when; a look due again, with the caller no longer blocked, switches it.
        Assert.Equal(1u, _rig.LastCheckAt(_home) & 1);
        _rig.ClearLastCheck(_home);
        _rig.SetRanges(Elsewhere);
        Assert.Equal(NewResult, CallThroughCaller());
    }

    [Theory]
    [InlineData(0x1000UL, 0x2000UL)] // a stack that is not the one it runs on, as on a coroutine's or a signal stack
    [InlineData(0UL, 0UL)] // Graft does not know its stack
    public void OutsideTheStackGraftWroteItDoesNotSwitch(ulong low, ulong high)
    {
        _rig.SetEntry(_home, _rig.CurrentThreadPointer(), OldUniverse, (low, high));
        _rig.SetRanges(Elsewhere);

        Assert.Equal(OldResult, CallThroughCaller());
        Assert.Equal(OldUniverse, _rig.UniverseAt(_home));
    }

    [Fact]
    public void WithSelfSwitchingOffItNeverLooks()
    {
        _rig.SetSelfSwitch(null);
        _rig.SetEntry(_home, _rig.CurrentThreadPointer(), OldUniverse, _rig.OwnStack);
        _rig.SetRanges(Elsewhere);

        Assert.Equal(OldResult, CallThroughCaller());
        Assert.Equal(0u, _rig.LastCheckAt(_home));
    }

    [Fact]
    public void AThreadInTheGoalAlreadyNeverLooks()
    {
        _rig.SetEntry(_home, _rig.CurrentThreadPointer(), NewUniverse, _rig.OwnStack);
        _rig.SetRanges(Elsewhere);

        Assert.Equal(NewResult, CallThroughCaller());
        Assert.Equal(0u, _rig.LastCheckAt(_home));
    }

    [Fact]
    public void AnUnknownThreadTakesTheHeadersUniverseAndNeverLooks()
    {
        _rig.SetRanges(Elsewhere);

        Assert.Equal(OldResult, CallThroughCaller());
    }

    [Fact]
    public void ItSwitchesTowardsOldWhenThatIsTheGoal()
    {
        _rig.SetSelfSwitch(OldUniverse);
        _rig.SetEntry(_home, _rig.CurrentThreadPointer(), NewUniverse, _rig.OwnStack);
        _rig.SetRanges(Elsewhere);

        Assert.Equal(OldResult, CallThroughCaller());
        Assert.Equal(OldUniverse, _rig.UniverseAt(_home));
    }

    [Fact]
    public void GraftsProposalIsTakenWhenTheThreadCalledNothingSinceEvenWithoutAScan()
    {
        _rig.SetSelfSwitch(NewUniverse, scan: false);
        _rig.SetEntry(_home, _rig.CurrentThreadPointer(), OldUniverse);
        _rig.Propose(_home, NewUniverse, calls: 0);

        Assert.Equal(NewResult, CallThroughCaller());
        Assert.Equal(NewUniverse, _rig.UniverseAt(_home));
        Assert.Equal(0u, _rig.CallsAt(_home));
    }

    [Fact]
    public void AProposalMadeBeforeACallIsVoidAndCleared()
    {
        _rig.SetSelfSwitch(NewUniverse, scan: false);
        _rig.SetEntry(_home, _rig.CurrentThreadPointer(), OldUniverse);

        // A call before Graft's proposal arrives: counted, and the thread stays.
        Assert.Equal(OldResult, CallThroughCaller());
        Assert.Equal(1u, _rig.CallsAt(_home));

        // A proposal from what Graft saw before that call: void, cleared, and this call counts too.
        _rig.Propose(_home, NewUniverse, calls: 0);
        Assert.Equal(OldResult, CallThroughCaller());
        Assert.Equal(0, _rig.ProposalAt(_home));
        Assert.Equal(2u, _rig.CallsAt(_home));
        Assert.Equal(0u, _rig.LastCheckAt(_home));

        // One from what it sees now holds.
        _rig.Propose(_home, NewUniverse, calls: 2);
        Assert.Equal(NewResult, CallThroughCaller());
    }

    [Fact]
    public void AProposalForTheOtherGoalIsNotTaken()
    {
        _rig.SetSelfSwitch(NewUniverse, scan: false);
        _rig.SetEntry(_home, _rig.CurrentThreadPointer(), OldUniverse);
        _rig.Propose(_home, OldUniverse, calls: 0);

        Assert.Equal(OldResult, CallThroughCaller());
        Assert.Equal(OldUniverse, _rig.UniverseAt(_home));
    }

    private int CallThroughCaller()
    {
        return ((delegate* unmanaged<int>)_rig.Caller)();
    }
}
