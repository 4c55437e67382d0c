namespace Graft.X86.Tests;

// How branches in the window come out in the slot's copy (checked against objdump when written).
public sealed class SlotRelocationTests
{
    private const ulong FunctionAddress = 0x7f12_3456_0000;

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
