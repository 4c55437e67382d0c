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
        Assert.Equal(SlotLayout.Size, slot.Bytes.Length);
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
    [InlineData(0x40)]  // the next slot
    public void MapToOriginalIsNullOutsideTheCopiedCode(int slotOffset)
    {
        SlotImage slot = SlotCode.Build(SlotAddress, PrologueAnalyzer.Analyze(FunctionWithRipRelativeLoad, FunctionAddress), 0);

        Assert.Null(slot.MapToOriginal(SlotAddress + (ulong)slotOffset));
    }

    [Fact]
    public void ShortConditionalJumpBecomesANearJumpInTheCopy()
    {
        const ulong functionAddress = 0x5555_5555_1000;
        const ulong slotAddress = 0x5555_5550_0000;
        byte[] function =
        [
            0x85, 0xFF,                   // +0: test edi,edi
            0x74, 0x03,                   // +2: je +7
            0x31, 0xC0,                   // +4: xor eax,eax
            0xC3,                         // +6: ret
            0xB8, 0x01, 0x00, 0x00, 0x00, // +7: mov eax,1
            0xC3,                         // +c: ret
        ];

        SlotImage slot = SlotCode.Build(slotAddress, PrologueAnalyzer.Analyze(function, functionAddress), 0);

        byte[] expectedCopy =
        [
            0x85, 0xFF,                         // +0x10: test edi,edi
            0x0F, 0x84, 0xEF, 0x0F, 0x05, 0x00, // +0x12: je functionAddress+7
            0x31, 0xC0,                         // +0x18: xor eax,eax
            0xE9, 0xE7, 0x0F, 0x05, 0x00,       // +0x1a: jmp functionAddress+6
            0xCC,                               // +0x1f: int3 filling
        ];
        Assert.Equal(expectedCopy, slot.Bytes[0x10..0x20].ToArray());
        Assert.Equal(functionAddress + 2, slot.MapToOriginal(slotAddress + 0x17));
    }

    [Fact]
    public void BranchBackToTheWindowStartStaysInsideTheCopy()
    {
        const ulong slotAddress = FunctionAddress - 0x1000;
        byte[] function =
        [
            0xF3, 0x90,                   // +0: pause
            0x75, 0xFC,                   // +2: jne +0
            0x90,                         // +4: nop
        ];

        SlotImage slot = SlotCode.Build(slotAddress, PrologueAnalyzer.Analyze(function, FunctionAddress), 0);

        byte[] expectedCopy =
        [
            0xF3, 0x90,                   // +0x10: pause
            0x75, 0xFC,                   // +0x12: jne +0x10 (the copy's own pause)
            0x90,                         // +0x14: nop
            0xE9, 0xEB, 0x0F, 0x00, 0x00, // +0x15: jmp FunctionAddress+5
        ];
        Assert.Equal(expectedCopy, slot.Bytes[0x10..0x1a].ToArray());
    }

    [Fact]
    public void LoopInTheWindowIsRewrittenAsALoopOverANearJump()
    {
        const ulong slotAddress = FunctionAddress - 0x1000;
        byte[] function =
        [
            0x31, 0xC0,                   // +0: xor eax,eax
            0xFF, 0xC0,                   // +2: inc eax
            0xE2, 0x02,                   // +4: loop +8
            0xC3,                         // +6: ret
            0x90,                         // +7: nop
            0xC3,                         // +8: ret
        ];

        SlotImage slot = SlotCode.Build(slotAddress, PrologueAnalyzer.Analyze(function, FunctionAddress), 0);

        byte[] expectedCopy =
        [
            0x31, 0xC0,                   // +0x10: xor eax,eax
            0xFF, 0xC0,                   // +0x12: inc eax
            0xE2, 0x02,                   // +0x14: loop +0x18
            0xEB, 0x05,                   // +0x16: jmp +0x1d
            0xE9, 0xEB, 0x0F, 0x00, 0x00, // +0x18: jmp FunctionAddress+8
            0xE9, 0xE4, 0x0F, 0x00, 0x00, // +0x1d: jmp FunctionAddress+6
        ];
        Assert.Equal(expectedCopy, slot.Bytes[0x10..0x22].ToArray());
        (ulong, ulong)[] expectedMap =
        [
            (slotAddress + 0x10, FunctionAddress + 0x0),
            (slotAddress + 0x12, FunctionAddress + 0x2),
            (slotAddress + 0x14, FunctionAddress + 0x4), // loop, rewritten as three instructions
            (slotAddress + 0x1d, FunctionAddress + 0x6),
        ];
        Assert.Equal(expectedMap, slot.InstructionMap);
        Assert.Equal(FunctionAddress + 4, slot.MapToOriginal(slotAddress + 0x18));
        Assert.Equal(FunctionAddress + 4, slot.MapToOriginal(slotAddress + 0x1c));
        Assert.Equal(FunctionAddress + 6, slot.MapToOriginal(slotAddress + 0x1d));
    }

    [Fact]
    public void ConsecutiveRewrittenBranchesEachMapToTheirOwnOrigin()
    {
        const ulong slotAddress = FunctionAddress - 0x1000;
        byte[] function =
        [
            0xE3, 0x04,                   // +0: jrcxz +6
            0xE2, 0x02,                   // +2: loop +6
            0xFF, 0xC0,                   // +4: inc eax
            0xC3,                         // +6: ret
        ];

        SlotImage slot = SlotCode.Build(slotAddress, PrologueAnalyzer.Analyze(function, FunctionAddress), 0);

        byte[] expectedCopy =
        [
            0xE3, 0x02,                   // +0x10: jrcxz +0x14
            0xEB, 0x05,                   // +0x12: jmp +0x19
            0xE9, 0xED, 0x0F, 0x00, 0x00, // +0x14: jmp FunctionAddress+6
            0xE2, 0x02,                   // +0x19: loop +0x1d
            0xEB, 0x05,                   // +0x1b: jmp +0x22
            0xE9, 0xE4, 0x0F, 0x00, 0x00, // +0x1d: jmp FunctionAddress+6
            0xFF, 0xC0,                   // +0x22: inc eax
            0xE9, 0xDD, 0x0F, 0x00, 0x00, // +0x24: jmp FunctionAddress+6
        ];
        Assert.Equal(expectedCopy, slot.Bytes[0x10..0x29].ToArray());
        (ulong, ulong)[] expectedMap =
        [
            (slotAddress + 0x10, FunctionAddress + 0x0),
            (slotAddress + 0x19, FunctionAddress + 0x2),
            (slotAddress + 0x22, FunctionAddress + 0x4),
            (slotAddress + 0x24, FunctionAddress + 0x6),
        ];
        Assert.Equal(expectedMap, slot.InstructionMap);
    }
}
