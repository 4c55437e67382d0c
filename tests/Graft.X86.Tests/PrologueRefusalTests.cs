namespace Graft.X86.Tests;

public sealed class PrologueRefusalTests
{
    private const ulong FunctionAddress = 0x7f12_3456_0000;

    [Fact]
    public void CallInsideTheWindowIsRefused()
    {
        byte[] function =
        [
            0x48, 0x83, 0xEC, 0x08,       // +0: sub rsp,8
            0xE8, 0x00, 0x00, 0x00, 0x00, // +4: call +9
            0x48, 0x83, 0xC4, 0x08,       // +9: add rsp,8
            0xC3,                         // +d: ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.Equal(PrologueRefusal.CallInWindow, analysis.Refusal);
        Assert.Equal(
            "the instruction at +0x4 (call 0x7f1234560009) is a call inside the 9 bytes to be rewritten (+0x0..+0x9); "
            + "moved to the slot, it would push a return address into the slot page",
            analysis.Message);
        Assert.Equal(9, analysis.WindowLength);
    }

    [Fact]
    public void IndirectCallInsideTheWindowIsRefused()
    {
        byte[] function =
        [
            0x31, 0xC0,                   // xor eax,eax
            0xFF, 0xD7,                   // call rdi
            0xC3,                         // ret
        ];

        Assert.Equal(PrologueRefusal.CallInWindow, PrologueAnalyzer.Analyze(function, FunctionAddress).Refusal);
    }

    [Fact]
    public void SyscallInsideTheWindowIsMovable()
    {
        byte[] function =
        [
            0xB8, 0x27, 0x00, 0x00, 0x00, // mov eax,0x27
            0x0F, 0x05,                   // syscall
            0xC3,                         // ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.True(analysis.IsPatchable, analysis.Message);
        Assert.Equal(5, analysis.WindowLength);
    }

    [Fact]
    public void UndecodableBytesInsideTheWindowAreRefused()
    {
        byte[] function =
        [
            0x55,                         // +0: push rbp
            0x06,                         // +1: (push es: invalid in 64-bit mode)
            0x07,                         // +2: (pop es: invalid in 64-bit mode)
            0x5D,                         // +3: pop rbp
            0xC3,                         // +4: ret
            0xC3,                         // +5: ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.Equal(PrologueRefusal.UndecodableInstruction, analysis.Refusal);
        Assert.Equal(
            "the bytes at +0x1 (06 07 5d c3 c3) do not decode as an x86-64 instruction, "
            + "and the 5-byte jump at +0x0 must replace whole instructions",
            analysis.Message);
    }

    [Fact]
    public void UndecodableBytesLaterInTheBodyAreRefusedBecauseTheBranchScanCannotFinish()
    {
        byte[] function =
        [
            0x55,                         // +0: push rbp
            0x48, 0x89, 0xE5,             // +1: mov rbp,rsp
            0x5D,                         // +4: pop rbp
            0x06,                         // +5: (invalid in 64-bit mode)
            0xC3,                         // +6: ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.Equal(PrologueRefusal.UndecodableInstruction, analysis.Refusal);
        Assert.Equal(
            "the bytes at +0x5 do not decode as x86-64 instructions, "
            + "so a branch from there into the 5 bytes to be rewritten (+0x0..+0x5) cannot be ruled out",
            analysis.Message);
    }

    [Fact]
    public void TruncatedPaddingAfterTheLastInstructionEndsTheScanQuietly()
    {
        byte[] function =
        [
            0x55,                         // push rbp
            0x48, 0x89, 0xE5,             // mov rbp,rsp
            0x5D,                         // pop rbp
            0xC3,                         // ret
            0x00,                         // (a lone zero byte of padding: does not decode)
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.True(analysis.IsPatchable, analysis.Message);
    }

    [Fact]
    public void BreakpointInsideTheWindowIsRefused()
    {
        byte[] function =
        [
            0xCC,                         // int3 (someone else's breakpoint over "push rbp")
            0x48, 0x89, 0xE5,             // mov rbp,rsp
            0x5D,                         // pop rbp
            0xC3,                         // ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.Equal(PrologueRefusal.UnsupportedInstructionInWindow, analysis.Refusal);
        Assert.StartsWith("the instruction at +0x0 (int3) is a breakpoint", analysis.Message);
    }

    [Fact]
    public void InstructionAfterRetInsideTheWindowIsRefused()
    {
        byte[] function =
        [
            0x31, 0xC0,                   // +0: xor eax,eax
            0xC3,                         // +2: ret
            0xFF, 0xC0,                   // +3: inc eax (reachable only through a jump we cannot see)
            0xC3,                         // +5: ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.Equal(PrologueRefusal.UnsupportedInstructionInWindow, analysis.Refusal);
        Assert.StartsWith("the instruction at +0x3 (inc eax) follows ret inside the 5 bytes to be rewritten", analysis.Message);
    }

    [Fact]
    public void FunctionRunningPastTheEndOfTheAddressSpaceIsRejected()
    {
        byte[] function = [0x55, 0x48, 0x89, 0xE5, 0x5D, 0xC3];

        var exception = Assert.Throws<ArgumentException>(() => PrologueAnalyzer.Analyze(function, ulong.MaxValue - 2));

        Assert.Contains("past the end of the address space", exception.Message);
    }
}
