namespace Graft.X86.Tests;

/// <summary>gcc -pg puts a call to its hook at a function's start; the jump replaces it, as the kernel's ftrace does.</summary>
public sealed class ProfilingCallTests
{
    private const ulong FunctionAddress = 0x5555_5555_1200;
    private const ulong FentrySlot = FunctionAddress + 6 + 0x2dda;

    // gcc -O2 -pg -mfentry (Debian's gcc calls __fentry__ through its GOT slot).
    private static readonly byte[] Fentry =
    [
        0xFF, 0x15, 0xDA, 0x2D, 0x00, 0x00, // +0x0: call qword ptr [rip+0x2dda] (__fentry__'s GOT slot)
        0x48, 0x8D, 0x04, 0x7F,             // +0x6: lea rax,[rdi+rdi*2]
        0xC3,                               // +0xa: ret
    ];

    [Fact]
    public void TheHookCallIsLeftOutOfTheCopyAsANopInItsPlace()
    {
        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(Fentry, FunctionAddress, isProfilingCall: address => address == FentrySlot);

        Assert.True(analysis.IsPatchable, analysis.Message);
        Assert.Equal(6, analysis.WindowLength);
        Assert.EndsWith("; the profiling call is left out of the relocated copy", analysis.Message, StringComparison.Ordinal);

        const ulong Slot = 0x5555_5560_0000;
        SlotImage image = SlotCode.Build(Slot, analysis, 0x7f00_0000_0000);
        byte[] copy = image.Bytes.Span[SlotLayout.OriginalCodeOffset..(SlotLayout.OriginalCodeOffset + 6)].ToArray();
        Assert.Equal(
            [
                0x90,                         // nop, where the call was
                0xE9, 0xF0, 0x11, 0xF5, 0xFF, // jmp FunctionAddress+6, back into the function
            ],
            copy);
        Assert.Contains(image.InstructionMap, m => m.OriginalAddress == FunctionAddress && m.CopyAddress == Slot + SlotLayout.OriginalCodeOffset);
    }

    [Fact]
    public void AnyOtherCallInTheWindowIsStillRefused()
    {
        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(Fentry, FunctionAddress, isProfilingCall: _ => false);

        Assert.Equal(PrologueRefusal.CallInWindow, analysis.Refusal);
    }
}
