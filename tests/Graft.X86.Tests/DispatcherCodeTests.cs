namespace Graft.X86.Tests;

public sealed class DispatcherCodeTests
{
    private const ulong SlotAddress = 0x7f12_3450_0000;
    private const ulong StubAddress = SlotAddress + SlotLayout.DispatcherOffset;
    private const ulong ThreadTable = 0x7f12_3400_0000;
    private const ulong OldTarget = SlotAddress + SlotLayout.OriginalCodeOffset;
    private const ulong NewTarget = 0x7f12_3460_0000;

    [Fact]
    public void StubLooksTheThreadUpAndJumpsThroughOneOfItsWords()
    {
        byte[] stub = DispatcherCode.Build(StubAddress, ThreadTable, OldTarget, NewTarget);

        // Disassembly by objdump -D -M intel -b binary -mi386:x86-64 --adjust-vma=0x7f1234500040.
        byte[] expected =
        [
            0x4C, 0x89, 0x54, 0x24, 0xF8,                         // +0x00: mov QWORD PTR [rsp-0x8],r10 (the callee's red zone)
            0x4C, 0x89, 0x5C, 0x24, 0xF0,                         // +0x05: mov QWORD PTR [rsp-0x10],r11
            0x64, 0x4C, 0x8B, 0x1C, 0x25, 0x00, 0x00, 0x00, 0x00, // +0x0a: mov r11,QWORD PTR fs:0x0
            0x4D, 0x89, 0xDA,                                     // +0x13: mov r10,r11
            0x4C, 0x0F, 0xAF, 0x15, 0x72, 0x00, 0x00, 0x00,       // +0x16: imul r10,QWORD PTR [rip+0x72] (+0x90: multiplier)
            0x49, 0xC1, 0xEA, 0x34,                               // +0x1e: shr r10,0x34
            0x49, 0xC1, 0xE2, 0x04,                               // +0x22: shl r10,0x4
            0x4C, 0x03, 0x15, 0x73, 0x00, 0x00, 0x00,             // +0x26: add r10,QWORD PTR [rip+0x73] (+0xa0: entries start)
            0x4D, 0x39, 0x1A,                                     // +0x2d: cmp QWORD PTR [r10],r11
            0x74, 0x1C,                                           // +0x30: je +0x4e
            0x49, 0x83, 0x3A, 0x00,                               // +0x32: cmp QWORD PTR [r10],0x0
            0x74, 0x1D,                                           // +0x36: je +0x55
            0x49, 0x83, 0xC2, 0x10,                               // +0x38: add r10,0x10
            0x4C, 0x3B, 0x15, 0x65, 0x00, 0x00, 0x00,             // +0x3c: cmp r10,QWORD PTR [rip+0x65] (+0xa8: entries end)
            0x72, 0xE8,                                           // +0x43: jb +0x2d
            0x4C, 0x8B, 0x15, 0x54, 0x00, 0x00, 0x00,             // +0x45: mov r10,QWORD PTR [rip+0x54] (+0xa0: entries start)
            0xEB, 0xDF,                                           // +0x4c: jmp +0x2d
            0x41, 0xF6, 0x42, 0x08, 0x01,                         // +0x4e: test BYTE PTR [r10+0x8],0x1
            0xEB, 0x0B,                                           // +0x53: jmp +0x60
            0x4C, 0x8B, 0x15, 0x3C, 0x00, 0x00, 0x00,             // +0x55: mov r10,QWORD PTR [rip+0x3c] (+0x98: table header)
            0x41, 0xF6, 0x02, 0x01,                               // +0x5c: test BYTE PTR [r10],0x1
            0x4C, 0x8B, 0x54, 0x24, 0xF8,                         // +0x60: mov r10,QWORD PTR [rsp-0x8] (flags untouched)
            0x4C, 0x8B, 0x5C, 0x24, 0xF0,                         // +0x65: mov r11,QWORD PTR [rsp-0x10]
            0x75, 0x06,                                           // +0x6a: jne +0x72
            0xFF, 0x25, 0x3E, 0x00, 0x00, 0x00,                   // +0x6c: jmp QWORD PTR [rip+0x3e] (+0xb0: old target)
            0xFF, 0x25, 0x40, 0x00, 0x00, 0x00,                   // +0x72: jmp QWORD PTR [rip+0x40] (+0xb8: new target)
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,       // +0x78: int3 up to the words
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,
            0x15, 0x7C, 0x4A, 0x7F, 0xB9, 0x79, 0x37, 0x9E,       // +0x90: dq 0x9e3779b97f4a7c15 (hash multiplier)
            0x00, 0x00, 0x00, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0x98: dq 0x7f1234000000 (table header)
            0x40, 0x00, 0x00, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0xa0: dq 0x7f1234000040 (entries start)
            0x40, 0x00, 0x01, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0xa8: dq 0x7f1234010040 (entries end)
            0x10, 0x00, 0x50, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0xb0: dq 0x7f1234500010 (old target: the slot's copy)
            0x00, 0x00, 0x60, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0xb8: dq 0x7f1234600000 (new target)
        ];
        Assert.Equal(expected, stub);
        Assert.Equal(SlotLayout.DispatcherCapacity, stub.Length);
    }

    [Fact]
    public void OnlyTheWordsDependOnTheAddresses()
    {
        byte[] stub = DispatcherCode.Build(StubAddress, ThreadTable, OldTarget, NewTarget);

        byte[] elsewhere = DispatcherCode.Build(0x1000, 0x7fff_fffe_0000, 0x2000, 0x3000);

        Assert.Equal(stub[..0x90], elsewhere[..0x90]);
        Assert.Equal(
            [0x7fff_fffe_0000UL, 0x7fff_fffe_0040UL, 0x7fff_fffe_0000UL + ThreadTableLayout.Size, 0x2000UL, 0x3000UL],
            Words(elsewhere)[1..]);
    }

    [Theory]
    [InlineData(0x7f12_3450_0044UL)]
    [InlineData(ulong.MaxValue - 7)]
    [InlineData(ulong.MaxValue - 183)] // aligned, but 192 bytes do not fit below the end of the address space
    public void StubAddressMustBeAlignedAndLeaveRoomForTheStub(ulong stubAddress)
    {
        var exception = Assert.Throws<ArgumentException>(() => DispatcherCode.Build(stubAddress, ThreadTable, OldTarget, NewTarget));

        Assert.Equal("stubAddress", exception.ParamName);
        Assert.StartsWith($"a dispatcher needs 192 bytes at an 8-byte aligned address; 0x{stubAddress:x} is not one", exception.Message);
    }

    [Theory]
    [InlineData(0x7f12_3400_0001UL)]
    [InlineData(ulong.MaxValue - 0x1_0000 - 7)] // aligned, but the table's 65600 bytes do not fit
    public void ThreadTableMustBeAlignedAndLeaveRoomForTheTable(ulong threadTable)
    {
        var exception = Assert.Throws<ArgumentException>(() => DispatcherCode.Build(StubAddress, threadTable, OldTarget, NewTarget));

        Assert.Equal("threadTable", exception.ParamName);
        Assert.StartsWith($"a thread table needs 65600 bytes at an 8-byte aligned address; 0x{threadTable:x} is not one", exception.Message);
    }

    private static ulong[] Words(byte[] stub)
    {
        return [.. stub[0x90..].Chunk(8).Select(word => BitConverter.ToUInt64(word))];
    }

    [Theory]
    [InlineData(0x00, 0xA0UL, 0xB0UL)] // before the first store: the registers are the entry's
    [InlineData(0x05, 0x8A0UL, 0xB0UL)] // r10 saved, r11 not yet
    [InlineData(0x0a, 0x8A0UL, 0x8B0UL)] // both saved: the ones in the registers are the dispatcher's own
    [InlineData(0x6c, 0x8A0UL, 0x8B0UL)] // both restored already: the red zone still holds them
    public void AThreadStoppedInsideGetsItsEntryRegistersFromTheRedZone(int offset, ulong r10, ulong r11)
    {
        const ulong Rsp = 0x7ffd_0000_1000;
        static ulong Read(ulong address) => address switch
        {
            Rsp - 8 => 0x8A0,
            Rsp - 16 => 0x8B0,
            _ => throw new ArgumentOutOfRangeException(nameof(address)),
        };

        Assert.Equal((r10, r11), DispatcherCode.EntryRegisters(offset, Rsp, 0xA0, 0xB0, Read));
    }
}
