using Graft.X86.Contract;

using Iced.Intel;

namespace Graft.X86.Tests;

/// <summary>What a body of code changes, calls and reads from the stack, as the caller-contract analysis sees it.</summary>
public sealed class BodyAnalyzerTests
{
    private const ulong Address = 0x401000;

    [Fact]
    public void ALeafThatWritesOnlyMemoryChangesNoRegister()
    {
        byte[] code =
        [
            0x48, 0x83, 0x47, 0x08, 0x01, // add qword ptr [rdi+8],1
            0xC3,                         // ret
        ];

        BodyEffects effects = BodyAnalyzer.Analyze(code, Address);

        Assert.True(effects.Written.IsEmpty);
        Assert.Empty(effects.Calls);
        Assert.Null(effects.Unfollowable);
        Assert.False(effects.AlignedStackAccess);
    }

    [Fact]
    public void PartialWritesCountForTheWholeRegisterAndSyscallForRcxAndR11()
    {
        byte[] code =
        [
            0x31, 0xC0,                   // xor eax,eax
            0x41, 0xB2, 0x01,             // mov r10b,1
            0x0F, 0x05,                   // syscall
            0x66, 0x0F, 0xEF, 0xC9,       // pxor xmm1,xmm1
            0xC3,                         // ret
        ];

        Assert.Equal("rax rcx r10 r11 xmm1", BodyAnalyzer.Analyze(code, Address).Written.ToString());
    }

    [Fact]
    public void DirectCallsAndJumpsOutOfTheBodyAreListedForTheAnalysisToFollow()
    {
        byte[] code =
        [
            0xE8, 0xFB, 0x0F, 0x00, 0x00, // call 0x402000
            0x74, 0x03,                   // je 0x40100a (inside)
            0xE9, 0xF4, 0x1F, 0x00, 0x00, // jmp 0x403000 (a tail call, or foo.cold)
        ];

        BodyEffects effects = BodyAnalyzer.Analyze(code, Address);

        Assert.Equal([0x402000UL], effects.Calls);
        Assert.Equal([0x403000UL], effects.Exits);
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xD0 }, "an indirect call at 0x401000")]                            // call rax
    [InlineData(new byte[] { 0xFF, 0x25, 0x00, 0x10, 0x00, 0x00 }, "an indirect jump at 0x401000")]   // jmp [rip+0x1000]: a PLT entry
    [InlineData(new byte[] { 0x48, 0x8B, 0x47, 0x08, 0xFF, 0xE0 }, "an indirect jump at 0x401004")]   // mov rax,[rdi+8]; jmp rax
    public void IndirectCallsAndTailCallsCannotBeFollowed(byte[] code, string why)
    {
        Assert.Equal(why, BodyAnalyzer.Analyze(code, Address).Unfollowable);
    }

    [Theory]
    [InlineData(new byte[] { 0x48, 0x63, 0x04, 0x82, 0x48, 0x01, 0xD0, 0xFF, 0xE0 })] // movsxd rax,[rdx+rax*4]; add rax,rdx; jmp rax (PIE)
    [InlineData(new byte[] { 0xFF, 0x24, 0xC5, 0x00, 0x20, 0x40, 0x00 })]             // jmp [rax*8+0x402000] (non-PIE)
    [InlineData(new byte[] { 0x3E, 0xFF, 0xE0 })]                                     // notrack jmp rax (-fcf-protection)
    public void SwitchDispatchStaysInsideTheFunction(byte[] code)
    {
        Assert.Null(BodyAnalyzer.Analyze(code, Address).Unfollowable);
    }

    [Fact]
    public void StackOperandsAreKeptWithTheirBaseAndAlignedSseAccessesNoted()
    {
        byte[] code =
        [
            0x48, 0x8B, 0x44, 0x24, 0x08, // mov rax,[rsp+8]
            0x0F, 0x29, 0x45, 0xF0,       // movaps [rbp-0x10],xmm0
            0x48, 0x8D, 0x54, 0x24, 0x10, // lea rdx,[rsp+0x10]
        ];

        BodyEffects effects = BodyAnalyzer.Analyze(code, Address);

        Assert.Equal(
            [new StackReference(0x401000, false, 8, 8, false), new StackReference(0x401005, true, -16, 16, false), new StackReference(0x401009, false, 16, 0, true)],
            effects.StackReferences);
        Assert.True(effects.AlignedStackAccess);
    }

    [Fact]
    public void RegisterSetNamesRangesAndKeepsOnlyCallerSavedRegisters()
    {
        RegisterSet set = RegisterSet.Of(Register.EDI) | RegisterSet.Of(Register.YMM3) | RegisterSet.Of(Register.XMM4)
            | RegisterSet.Of(Register.ZMM5) | RegisterSet.Of(Register.K1) | RegisterSet.Of(Register.RBX) | RegisterSet.Of(Register.ST0);

        Assert.Equal("rdi xmm3-5 k1 st", set.ToString());
        Assert.Equal("rax rcx rdx rsi rdi r8 r9 r10 r11 xmm0-31 k0-7 st", RegisterSet.CallerSaved.ToString());
    }
}
