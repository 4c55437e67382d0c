using Graft.X86.Tests.Native;

using Iced.Intel;

using static Graft.X86.ThreadTableLayout;
using static Iced.Intel.AssemblerRegisters;

namespace Graft.X86.Tests;

/// <summary>
/// A native caller, on the rig's own stack, loads every general register with its own value and calls the stub; the
/// target it reaches checks them all. A caller built with gcc -fipa-ra may keep values in any of them across the call: only rflags is the stub's to change.
/// </summary>
public sealed unsafe class DispatcherRegisterTests
{
    /// <summary>A distinct value per general register, each with the top bit set, for callers that check them all.</summary>
    internal static readonly (AssemblerRegister64 Register, ulong Value)[] Expected =
    [
        (rbx, 0x8000_0001_0101_0101), (rbp, 0x8000_0002_0202_0202), (r12, 0x8000_0003_0303_0303),
        (r13, 0x8000_0004_0404_0404), (r14, 0x8000_0005_0505_0505), (r15, 0x8000_0006_0606_0606),
        (rdi, 0x8000_0007_0707_0707), (rsi, 0x8000_0008_0808_0808), (rdx, 0x8000_0009_0909_0909),
        (rcx, 0x8000_000a_0a0a_0a0a), (r8, 0x8000_000b_0b0b_0b0b), (r9, 0x8000_000c_0c0c_0c0c),
        (rax, 0x8000_000d_0d0d_0d0d), (r10, 0x8000_000e_0e0e_0e0e), (r11, 0x8000_000f_0f0f_0f0f),
    ];

    [Theory]
    [InlineData(false, OldUniverse)]
    [InlineData(false, NewUniverse)]
    [InlineData(true, OldUniverse)]
    [InlineData(true, NewUniverse)]
    public void EveryRegisterButFlagsReachesTheTarget(bool threadHasEntry, byte universe)
    {
        using var rig = Rig(universe);
        if (threadHasEntry)
        {
            rig.SetDefaultUniverse((byte)(universe ^ 1));
            rig.SetEntry(HomeIndex(rig.CurrentThreadPointer()), rig.CurrentThreadPointer(), universe);
        }
        else
        {
            rig.SetDefaultUniverse(universe);
        }

        Assert.Equal(1, ((delegate* unmanaged<int>)rig.Caller)());
    }

    /// <summary>Through the self-switch: it looks at the stack and switches (clean), or looks and stays (the caller blocked).</summary>
    [Theory]
    [InlineData(false, NewUniverse)]
    [InlineData(true, OldUniverse)]
    public void EveryRegisterButFlagsReachesTheTargetThroughTheSelfSwitch(bool callerBlocked, byte universe)
    {
        using var rig = Rig(universe);
        rig.SetDefaultUniverse(OldUniverse);
        rig.SetSelfSwitch(NewUniverse);
        rig.SetEntry(HomeIndex(rig.CurrentThreadPointer()), rig.CurrentThreadPointer(), OldUniverse, rig.OwnStack);
        rig.SetRanges(callerBlocked ? [(rig.Caller, rig.Caller + 0x100)] : []);

        Assert.Equal(1, ((delegate* unmanaged<int>)rig.Caller)());
        Assert.NotEqual(0u, rig.LastCheckAt(HomeIndex(rig.CurrentThreadPointer())));
    }

    private static DispatcherRig Rig(byte universe) => new(
        oldTarget: universe == OldUniverse ? CheckRegisters : ReturnZero,
        newTarget: universe == NewUniverse ? CheckRegisters : ReturnZero,
        caller: CallWithKnownRegisters,
        callerOnOwnStack: true);

    private static void CallWithKnownRegisters(Assembler assembler, ulong stub)
    {
        AssemblerRegister64[] calleeSaved = [rbx, rbp, r12, r13, r14, r15];
        foreach (AssemblerRegister64 register in calleeSaved)
        {
            assembler.push(register);
        }

        // Pushes its own address plus 8, so the target can tell that rsp arrived exactly as the call left it.
        // With the six pushes above this also makes rsp 16-byte aligned at the call, as at any function call.
        assembler.push(rsp);
        foreach ((AssemblerRegister64 register, ulong value) in Expected)
        {
            assembler.mov(register, value);
        }

        assembler.call(stub);
        assembler.pop(r11);
        foreach (AssemblerRegister64 register in Enumerable.Reverse(calleeSaved))
        {
            assembler.pop(register);
        }
    }

    private static void CheckRegisters(Assembler assembler)
    {
        Label mismatch = assembler.CreateLabel();

        // Compared through the stack, so that no register is overwritten before it is checked; the pushed value is
        // checked first, from above the return address, then dropped.
        foreach ((AssemblerRegister64 register, ulong value) in Expected)
        {
            assembler.push(register);
            assembler.mov(register, value);
            assembler.cmp(__qword_ptr[rsp], register);
            assembler.pop(register);
            assembler.jne(mismatch);
        }

        // [rsp] is the return address; above it, what the caller's push rsp stored: this rsp plus 16.
        assembler.lea(r11, __[rsp + 16]);
        assembler.cmp(__qword_ptr[rsp + 8], r11);
        assembler.jne(mismatch);
        assembler.mov(eax, 1);
        assembler.ret();
        assembler.Label(ref mismatch);
        ReturnZero(assembler);
    }

    private static void ReturnZero(Assembler assembler)
    {
        assembler.xor(eax, eax);
        assembler.ret();
    }
}
