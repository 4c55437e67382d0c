namespace Graft.X86.Tests;

public sealed class PrologueAnalyzerTests
{
    private const ulong FunctionAddress = 0x7f12_3456_0000;

    [Fact]
    public void PlainFramePointerPrologueMovesWholeInstructionsCoveringFiveBytes()
    {
        byte[] function =
        [
            0x55,                         // push rbp
            0x48, 0x89, 0xE5,             // mov rbp,rsp
            0x48, 0x83, 0xEC, 0x10,       // sub rsp,0x10
            0x89, 0x7D, 0xFC,             // mov [rbp-4],edi
            0xC9,                         // leave
            0xC3,                         // ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.True(analysis.IsPatchable, analysis.Message);
        Assert.Equal(PrologueRefusal.None, analysis.Refusal);
        Assert.Equal(FunctionAddress, analysis.PatchAddress);
        Assert.Equal(8, analysis.WindowLength);
        Assert.Equal(function[..8], analysis.WindowBytes.ToArray());
        Assert.Equal("patchable: the jump replaces 8 bytes at +0x0..+0x8: push rbp; mov rbp,rsp; sub rsp,0x10", analysis.Message);
    }

    [Fact]
    public void Endbr64StaysInPlaceAndTheWindowStartsAfterIt()
    {
        byte[] function =
        [
            0xF3, 0x0F, 0x1E, 0xFA,       // endbr64
            0x55,                         // push rbp
            0x48, 0x89, 0xE5,             // mov rbp,rsp
            0x89, 0x7D, 0xFC,             // mov [rbp-4],edi
            0x5D,                         // pop rbp
            0xC3,                         // ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.True(analysis.IsPatchable, analysis.Message);
        Assert.Equal(FunctionAddress + 4, analysis.PatchAddress);
        Assert.Equal(7, analysis.WindowLength);
        Assert.Equal(function[4..11], analysis.WindowBytes.ToArray());
    }

    [Fact]
    public void WindowMayEndWithRet()
    {
        byte[] function =
        [
            0x8D, 0x04, 0x37,             // lea eax,[rdi+rsi]
            0x90,                         // nop
            0xC3,                         // ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.True(analysis.IsPatchable, analysis.Message);
        Assert.Equal(5, analysis.WindowLength);
    }

    [Theory]
    [InlineData(new byte[] { 0xC3 }, "function is 1 byte long; the 5-byte jump does not fit")]                 // ret
    [InlineData(new byte[] { 0x31, 0xC0, 0xC3 }, "function is 3 bytes long; the 5-byte jump does not fit")]     // xor eax,eax; ret
    [InlineData(new byte[] { }, "function is 0 bytes long; the 5-byte jump does not fit")]
    [InlineData(
        new byte[] { 0xF3, 0x0F, 0x1E, 0xFA, 0x31, 0xC0, 0xC3 },                                             // endbr64; xor eax,eax; ret
        "function is 7 bytes long and starts with endbr64; the 3 bytes after it cannot hold the 5-byte jump")]
    public void FunctionShorterThanTheJumpIsTooSmall(byte[] function, string message)
    {
        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.False(analysis.IsPatchable);
        Assert.Equal(PrologueRefusal.TooSmall, analysis.Refusal);
        Assert.Equal(message, analysis.Message);
        Assert.Equal(0, analysis.WindowLength);
    }

    [Fact]
    public void LoopBackIntoTheWindowIsRefused()
    {
        byte[] function =
        [
            0x31, 0xC0,                   // +0: xor eax,eax
            0xFF, 0xC0,                   // +2: inc eax
            0x83, 0xF8, 0x0A,             // +4: cmp eax,0xa
            0x75, 0xF9,                   // +7: jne +2
            0xC3,                         // +9: ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.Equal(PrologueRefusal.BranchIntoWindow, analysis.Refusal);
        Assert.Equal(
            "the instruction at +0x7 (jne 0x7f1234560002) branches to +0x2, inside the 7 bytes to be rewritten (+0x0..+0x7)",
            analysis.Message);
    }

    [Fact]
    public void BranchToThePatchAddressItselfIsAllowed()
    {
        byte[] function =
        [
            0xFF, 0xC7,                   // +0: inc edi
            0x89, 0xF8,                   // +2: mov eax,edi
            0x83, 0xE0, 0x0F,             // +4: and eax,0xf
            0x75, 0xF7,                   // +7: jne +0
            0xC3,                         // +9: ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.True(analysis.IsPatchable, analysis.Message);
        Assert.Equal(7, analysis.WindowLength);
    }

    [Fact]
    public void BranchesToTheEndbr64OrJustAfterTheWindowAreAllowed()
    {
        byte[] function =
        [
            0xF3, 0x0F, 0x1E, 0xFA,       // +0: endbr64
            0x85, 0xFF,                   // +4: test edi,edi
            0x74, 0x02,                   // +6: je +0xa (the first byte after the window)
            0xFF, 0xCF,                   // +8: dec edi
            0xEB, 0xF4,                   // +a: jmp +0
            0xC3,                         // +c: ret
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.True(analysis.IsPatchable, analysis.Message);
        Assert.Equal(FunctionAddress + 4, analysis.PatchAddress);
        Assert.Equal(6, analysis.WindowLength);
    }

    [Fact]
    public void RipRelativeAddressOfABytesInsideTheWindowIsRefused()
    {
        byte[] function =
        [
            0x31, 0xC0,                               // +0: xor eax,eax
            0x31, 0xD2,                               // +2: xor edx,edx
            0x31, 0xC9,                               // +4: xor ecx,ecx
            0x48, 0x8D, 0x05, 0xF5, 0xFF, 0xFF, 0xFF, // +6: lea rax,[rip-0xb] = +2
            0xFF, 0xE0,                               // +d: jmp rax
        ];

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        Assert.Equal(PrologueRefusal.BranchIntoWindow, analysis.Refusal);
        Assert.StartsWith("the instruction at +0x6 (lea rax,[0x7f1234560002]) refers to +0x2", analysis.Message);
    }
}
