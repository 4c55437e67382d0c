namespace Graft.X86.Tests;

public sealed class SlotCodeRefusalTests
{
    private const ulong FunctionAddress = 0x7f12_3456_0000;

    private static readonly byte[] FramePointerFunction =
    [
        0x55,                         // push rbp
        0x48, 0x89, 0xE5,             // mov rbp,rsp
        0x5D,                         // pop rbp
        0xC3,                         // ret
    ];

    [Fact]
    public void SlotBeyondRel32ReachOfTheFunctionIsRefused()
    {
        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(FramePointerFunction, FunctionAddress);

        var exception = Assert.Throws<SlotEncodingException>(() => SlotCode.Build(FunctionAddress - 0x8001_0000, analysis, 0));

        Assert.Equal(
            "the slot at 0x7f11b4550000 is out of rel32 reach of 0x7f1234560005, where the copied code jumps back",
            exception.Message);
    }

    [Fact]
    public void RipRelativeTargetBeyondReachOfTheSlotIsRefused()
    {
        byte[] function =
        [
            0x8B, 0x05, 0x00, 0x00, 0x00, 0x70, // mov eax,[rip+0x70000000]
            0xC3,                               // ret
        ];
        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(function, FunctionAddress);

        var exception = Assert.Throws<SlotEncodingException>(() => SlotCode.Build(FunctionAddress - 0x2000_0000, analysis, 0));

        Assert.Equal(
            "the instruction at 0x7f1234560000 (mov eax,[0x7f12a4560006]) refers to 0x7f12a4560006, "
            + "out of rel32 reach from the slot at 0x7f1214560000",
            exception.Message);
    }

    [Fact]
    public void UnpatchableAnalysisIsRejected()
    {
        PrologueAnalysis analysis = PrologueAnalyzer.Analyze([0xC3], FunctionAddress); // ret

        var exception = Assert.Throws<ArgumentException>(() => SlotCode.Build(FunctionAddress - 0x1000, analysis, 0));

        Assert.StartsWith("cannot build a slot for a function that is not patchable: function is 1 byte long", exception.Message);
    }

    [Theory]
    [InlineData(0x7f12_3455_0004UL)]
    [InlineData(ulong.MaxValue - 7)]
    [InlineData(ulong.MaxValue - 127)] // room for the head, not for the dispatcher after it
    public void SlotAddressMustBeAlignedAndLeaveRoomForAWholeSlot(ulong slotAddress)
    {
        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(FramePointerFunction, FunctionAddress);

        var exception = Assert.Throws<ArgumentException>(() => SlotCode.Build(slotAddress, analysis, 0));

        Assert.Contains("a slot needs 704 bytes at an 8-byte aligned address", exception.Message);
    }
}
