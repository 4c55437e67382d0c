namespace Graft.X86.Tests;

public sealed class SlotCodeTests
{
    private const ulong FunctionAddress = 0x7f12_3456_0000;
    private const ulong SlotAddress = 0x7f12_3450_0040;        // FunctionAddress - 0x5ffc0
    private const ulong ReplacementAddress = 0x7f12_3460_0000;

    // The window (+0..+0xa) holds a RIP-relative load of FunctionAddress+0x1a.
    private static readonly byte[] FunctionWithRipRelativeLoad =
    [
        0x55,                               // +0: push rbp
        0x48, 0x89, 0xE5,                   // +1: mov rbp,rsp
        0x8B, 0x05, 0x10, 0x00, 0x00, 0x00, // +4: mov eax,[rip+0x10]
        0x5D,                               // +a: pop rbp
        0xC3,                               // +b: ret
    ];

    [Fact]
    public void SlotImageIsJumpThroughPointerThenRelocatedCopyThenJumpBack()
    {
        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(FunctionWithRipRelativeLoad, FunctionAddress);

        SlotImage slot = SlotCode.Build(SlotAddress, analysis, ReplacementAddress);

        byte[] expected =
        [
            0xFF, 0x25, 0x02, 0x00, 0x00, 0x00,             // +0x00: jmp qword ptr [rip+2]
            0xCC, 0xCC,                                     // +0x06: int3 padding
            0x00, 0x00, 0x60, 0x34, 0x12, 0x7F, 0x00, 0x00, // +0x08: dq 0x7f1234600000
            0x55,                                           // +0x10: push rbp
            0x48, 0x89, 0xE5,                               // +0x11: mov rbp,rsp
            0x8B, 0x05, 0xC0, 0xFF, 0x05, 0x00,             // +0x14: mov eax,[rip+0x5ffc0] (still FunctionAddress+0x1a)
            0xE9, 0xAB, 0xFF, 0x05, 0x00,                   // +0x1a: jmp FunctionAddress+0xa
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, // +0x1f: int3 filling the rest
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,
            0xCC,
        ];
        Assert.Equal(expected, slot.Bytes.ToArray());
        Assert.Equal(SlotLayout.HeadSize, slot.Bytes.Length);
        Assert.Equal(SlotAddress + 0x10, slot.OriginalCodeAddress);
    }

    [Fact]
    public void InstructionMapPairsEachCopiedInstructionWithItsOrigin()
    {
        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(FunctionWithRipRelativeLoad, FunctionAddress);

        SlotImage slot = SlotCode.Build(SlotAddress, analysis, ReplacementAddress);

        (ulong, ulong)[] expected =
        [
            (SlotAddress + 0x10, FunctionAddress + 0x0), // push rbp
            (SlotAddress + 0x11, FunctionAddress + 0x1), // mov rbp,rsp
            (SlotAddress + 0x14, FunctionAddress + 0x4), // mov eax,[rip+...]
            (SlotAddress + 0x1a, FunctionAddress + 0xa), // jmp back: stands for the first instruction after the window
        ];
        Assert.Equal(expected, slot.InstructionMap);
    }

    [Theory]
    [InlineData(0x10, 0x0)]
    [InlineData(0x11, 0x1)]
    [InlineData(0x12, 0x1)]  // inside mov rbp,rsp
    [InlineData(0x14, 0x4)]
    [InlineData(0x19, 0x4)]  // last byte of the RIP-relative load
    [InlineData(0x1a, 0xa)]
    [InlineData(0x1e, 0xa)]  // last byte of the jump back
    public void MapToOriginalFindsTheInstructionAnAddressBelongsTo(int slotOffset, int functionOffset)
    {
        SlotImage slot = SlotCode.Build(SlotAddress, PrologueAnalyzer.Analyze(FunctionWithRipRelativeLoad, FunctionAddress), 0);

        Assert.Equal(FunctionAddress + (ulong)functionOffset, slot.MapToOriginal(SlotAddress + (ulong)slotOffset));
    }

    [Theory]
    [InlineData(0x0)]   // the jmp through the pointer
    [InlineData(0x8)]   // the pointer
    [InlineData(0xf)]
    [InlineData(0x1f)]  // int3 filling after the jump back
    [InlineData(0x3f)]
    [InlineData(0x40)]  // the dispatcher after the head
    public void MapToOriginalIsNullOutsideTheCopiedCode(int slotOffset)
    {
        SlotImage slot = SlotCode.Build(SlotAddress, PrologueAnalyzer.Analyze(FunctionWithRipRelativeLoad, FunctionAddress), 0);

        Assert.Null(slot.MapToOriginal(SlotAddress + (ulong)slotOffset));
    }
}
