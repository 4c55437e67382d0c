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
            // The lookup: r10 and r11 wait in the callee's red zone.
            0x4C, 0x89, 0x54, 0x24, 0xF8,                         // +0x00: mov QWORD PTR [rsp-0x8],r10
            0x4C, 0x89, 0x5C, 0x24, 0xF0,                         // +0x05: mov QWORD PTR [rsp-0x10],r11
            0x64, 0x4C, 0x8B, 0x1C, 0x25, 0x00, 0x00, 0x00, 0x00, // +0x0a: mov r11,QWORD PTR fs:0x0
            0x4D, 0x89, 0xDA,                                     // +0x13: mov r10,r11
            0x4C, 0x0F, 0xAF, 0x15, 0xF2, 0x01, 0x00, 0x00,       // +0x16: imul r10,QWORD PTR [rip+0x1f2] (+0x210: hash multiplier)
            0x49, 0xC1, 0xEA, 0x34,                               // +0x1e: shr r10,0x34
            0x49, 0xC1, 0xE2, 0x06,                               // +0x22: shl r10,0x6
            0x4C, 0x03, 0x15, 0xF3, 0x01, 0x00, 0x00,             // +0x26: add r10,QWORD PTR [rip+0x1f3] (+0x220: entries start)
            0x4D, 0x39, 0x1A,                                     // +0x2d: cmp QWORD PTR [r10],r11
            0x74, 0x1C,                                           // +0x30: je +0x4e
            0x49, 0x83, 0x3A, 0x00,                               // +0x32: cmp QWORD PTR [r10],0x0
            0x74, 0x37,                                           // +0x36: je +0x6f
            0x49, 0x83, 0xC2, 0x40,                               // +0x38: add r10,0x40
            0x4C, 0x3B, 0x15, 0xE5, 0x01, 0x00, 0x00,             // +0x3c: cmp r10,QWORD PTR [rip+0x1e5] (+0x228: entries end)
            0x72, 0xE8,                                           // +0x43: jb +0x2d
            0x4C, 0x8B, 0x15, 0xD4, 0x01, 0x00, 0x00,             // +0x45: mov r10,QWORD PTR [rip+0x1d4] (+0x220: entries start)
            0xEB, 0xDF,                                           // +0x4c: jmp +0x2d
            // Known: the fast path unless self-switching is on and the thread is not in the goal universe.
            0x4C, 0x8B, 0x1D, 0xC3, 0x01, 0x00, 0x00,             // +0x4e: mov r11,QWORD PTR [rip+0x1c3] (+0x218: table header)
            0x45, 0x0F, 0xB6, 0x5B, 0x01,                         // +0x55: movzx r11d,BYTE PTR [r11+0x1]
            0x45, 0x85, 0xDB,                                     // +0x5a: test r11d,r11d
            0x74, 0x09,                                           // +0x5d: je +0x68
            0x41, 0xFF, 0xCB,                                     // +0x5f: dec r11d
            0x45, 0x38, 0x5A, 0x08,                               // +0x62: cmp BYTE PTR [r10+0x8],r11b
            0x75, 0x2A,                                           // +0x66: jne +0x92
            0x41, 0xF6, 0x42, 0x08, 0x01,                         // +0x68: test BYTE PTR [r10+0x8],0x1
            0xEB, 0x0B,                                           // +0x6d: jmp +0x7a
            0x4C, 0x8B, 0x15, 0xA2, 0x01, 0x00, 0x00,             // +0x6f: mov r10,QWORD PTR [rip+0x1a2] (+0x218: table header)
            0x41, 0xF6, 0x02, 0x01,                               // +0x76: test BYTE PTR [r10],0x1
            0x4C, 0x8B, 0x54, 0x24, 0xF8,                         // +0x7a: mov r10,QWORD PTR [rsp-0x8]
            0x4C, 0x8B, 0x5C, 0x24, 0xF0,                         // +0x7f: mov r11,QWORD PTR [rsp-0x10]
            0x75, 0x06,                                           // +0x84: jne +0x8c
            0xFF, 0x25, 0xA4, 0x01, 0x00, 0x00,                   // +0x86: jmp QWORD PTR [rip+0x1a4] (+0x230: old target)
            0xFF, 0x25, 0xA6, 0x01, 0x00, 0x00,                   // +0x8c: jmp QWORD PTR [rip+0x1a6] (+0x238: new target)
            // Self-switch (SelfSwitchFrom): seven more registers into the red zone.
            0x48, 0x89, 0x44, 0x24, 0xE8,                         // +0x92: mov QWORD PTR [rsp-0x18],rax
            0x48, 0x89, 0x4C, 0x24, 0xE0,                         // +0x97: mov QWORD PTR [rsp-0x20],rcx
            0x48, 0x89, 0x54, 0x24, 0xD8,                         // +0x9c: mov QWORD PTR [rsp-0x28],rdx
            0x48, 0x89, 0x74, 0x24, 0xD0,                         // +0xa1: mov QWORD PTR [rsp-0x30],rsi
            0x48, 0x89, 0x7C, 0x24, 0xC8,                         // +0xa6: mov QWORD PTR [rsp-0x38],rdi
            0x4C, 0x89, 0x44, 0x24, 0xC0,                         // +0xab: mov QWORD PTR [rsp-0x40],r8
            0x4C, 0x89, 0x4C, 0x24, 0xB8,                         // +0xb0: mov QWORD PTR [rsp-0x48],r9
            // Graft's proposal holds if the calls count is what Graft saw: take the goal.
            0x4C, 0x8B, 0x1D, 0x5C, 0x01, 0x00, 0x00,             // +0xb5: mov r11,QWORD PTR [rip+0x15c] (+0x218: table header)
            0x41, 0x0F, 0xB6, 0x4B, 0x01,                         // +0xbc: movzx ecx,BYTE PTR [r11+0x1]
            0x41, 0x38, 0x4A, 0x09,                               // +0xc1: cmp BYTE PTR [r10+0x9],cl
            0x75, 0x1A,                                           // +0xc5: jne +0xe1
            0x41, 0x8B, 0x42, 0x24,                               // +0xc7: mov eax,DWORD PTR [r10+0x24]
            0x41, 0x3B, 0x42, 0x20,                               // +0xcb: cmp eax,DWORD PTR [r10+0x20]
            0x75, 0x0B,                                           // +0xcf: jne +0xdc
            0xFF, 0xC9,                                           // +0xd1: dec ecx
            0x41, 0x88, 0x4A, 0x08,                               // +0xd3: mov BYTE PTR [r10+0x8],cl
            0xE9, 0xF2, 0x00, 0x00, 0x00,                         // +0xd7: jmp +0x1ce
            // A void proposal is cleared; this call counts; a scan only if the header allows it.
            0x41, 0xC6, 0x42, 0x09, 0x00,                         // +0xdc: mov BYTE PTR [r10+0x9],0x0
            0x41, 0xFF, 0x42, 0x20,                               // +0xe1: inc DWORD PTR [r10+0x20]
            0x41, 0x80, 0x7B, 0x02, 0x00,                         // +0xe5: cmp BYTE PTR [r11+0x2],0x0
            0x0F, 0x84, 0xDE, 0x00, 0x00, 0x00,                   // +0xea: je +0x1ce
            // At most once per 4 x 65536 counter ticks.
            0x0F, 0x31,                                           // +0xf0: rdtsc
            0x0F, 0xAC, 0xD0, 0x10,                               // +0xf2: shrd eax,edx,0x10
            0x0D, 0x01, 0x00, 0x00, 0x00,                         // +0xf6: or eax,0x1
            0x41, 0x8B, 0x4A, 0x0C,                               // +0xfb: mov ecx,DWORD PTR [r10+0xc]
            0x85, 0xC9,                                           // +0xff: test ecx,ecx
            0x74, 0x0D,                                           // +0x101: je +0x110
            0x89, 0xC2,                                           // +0x103: mov edx,eax
            0x29, 0xCA,                                           // +0x105: sub edx,ecx
            0x83, 0xFA, 0x04,                                     // +0x107: cmp edx,0x4
            0x0F, 0x82, 0xBE, 0x00, 0x00, 0x00,                   // +0x10a: jb +0x1ce
            0x41, 0x89, 0x42, 0x0C,                               // +0x110: mov DWORD PTR [r10+0xc],eax
            // On its own stack, not on an alternate signal stack (sigaltstack).
            0x49, 0x3B, 0x62, 0x10,                               // +0x114: cmp rsp,QWORD PTR [r10+0x10]
            0x0F, 0x82, 0xB0, 0x00, 0x00, 0x00,                   // +0x118: jb +0x1ce
            0x49, 0x3B, 0x62, 0x18,                               // +0x11e: cmp rsp,QWORD PTR [r10+0x18]
            0x0F, 0x83, 0xA6, 0x00, 0x00, 0x00,                   // +0x122: jae +0x1ce
            0x31, 0xFF,                                           // +0x128: xor edi,edi
            0x48, 0x8D, 0x74, 0x24, 0x98,                         // +0x12a: lea rsi,[rsp-0x68]
            0xB8, 0x83, 0x00, 0x00, 0x00,                         // +0x12f: mov eax,0x83
            0x0F, 0x05,                                           // +0x134: syscall
            0x48, 0x85, 0xC0,                                     // +0x136: test rax,rax
            0x0F, 0x85, 0x8F, 0x00, 0x00, 0x00,                   // +0x139: jne +0x1ce
            0xF6, 0x44, 0x24, 0xA0, 0x01,                         // +0x13f: test BYTE PTR [rsp-0x60],0x1
            0x0F, 0x85, 0x84, 0x00, 0x00, 0x00,                   // +0x144: jne +0x1ce
            // Each word from rsp up to the stack's top, against the ranges' bounds, then a binary search.
            0x48, 0x8B, 0x0D, 0xC7, 0x00, 0x00, 0x00,             // +0x14a: mov rcx,QWORD PTR [rip+0xc7] (+0x218: table header)
            0x48, 0x81, 0xC1, 0x40, 0x00, 0x04, 0x00,             // +0x151: add rcx,0x40040
            0x48, 0x89, 0xE6,                                     // +0x158: mov rsi,rsp
            0x49, 0x8B, 0x7A, 0x18,                               // +0x15b: mov rdi,QWORD PTR [r10+0x18]
            0x48, 0x39, 0xFE,                                     // +0x15f: cmp rsi,rdi
            0x73, 0x52,                                           // +0x162: jae +0x1b6
            0x48, 0x8B, 0x06,                                     // +0x164: mov rax,QWORD PTR [rsi]
            0x48, 0x83, 0xC6, 0x08,                               // +0x167: add rsi,0x8
            0x48, 0x3B, 0x41, 0x08,                               // +0x16b: cmp rax,QWORD PTR [rcx+0x8]
            0x72, 0xEE,                                           // +0x16f: jb +0x15f
            0x48, 0x3B, 0x41, 0x10,                               // +0x171: cmp rax,QWORD PTR [rcx+0x10]
            0x73, 0xE8,                                           // +0x175: jae +0x15f
            0x31, 0xD2,                                           // +0x177: xor edx,edx
            0x4C, 0x8B, 0x01,                                     // +0x179: mov r8,QWORD PTR [rcx]
            0x4C, 0x39, 0xC2,                                     // +0x17c: cmp rdx,r8
            0x73, 0x20,                                           // +0x17f: jae +0x1a1
            0x4E, 0x8D, 0x0C, 0x02,                               // +0x181: lea r9,[rdx+r8*1]
            0x49, 0xD1, 0xE9,                                     // +0x185: shr r9,1
            0x4D, 0x89, 0xCB,                                     // +0x188: mov r11,r9
            0x49, 0xC1, 0xE3, 0x04,                               // +0x18b: shl r11,0x4
            0x4A, 0x3B, 0x44, 0x19, 0x20,                         // +0x18f: cmp rax,QWORD PTR [rcx+r11*1+0x20]
            0x72, 0x06,                                           // +0x194: jb +0x19c
            0x49, 0x8D, 0x51, 0x01,                               // +0x196: lea rdx,[r9+0x1]
            0xEB, 0xE0,                                           // +0x19a: jmp +0x17c
            0x4D, 0x89, 0xC8,                                     // +0x19c: mov r8,r9
            0xEB, 0xDB,                                           // +0x19f: jmp +0x17c
            0x48, 0x85, 0xD2,                                     // +0x1a1: test rdx,rdx
            0x74, 0xB9,                                           // +0x1a4: je +0x15f
            0x49, 0x89, 0xD3,                                     // +0x1a6: mov r11,rdx
            0x49, 0xC1, 0xE3, 0x04,                               // +0x1a9: shl r11,0x4
            0x4A, 0x3B, 0x44, 0x19, 0x18,                         // +0x1ad: cmp rax,QWORD PTR [rcx+r11*1+0x18]
            0x72, 0x1A,                                           // +0x1b2: jb +0x1ce
            0xEB, 0xA9,                                           // +0x1b4: jmp +0x15f
            // Clean: the goal from the header, unless self-switching was turned off meanwhile.
            0x4C, 0x8B, 0x1D, 0x5B, 0x00, 0x00, 0x00,             // +0x1b6: mov r11,QWORD PTR [rip+0x5b] (+0x218: table header)
            0x45, 0x0F, 0xB6, 0x5B, 0x01,                         // +0x1bd: movzx r11d,BYTE PTR [r11+0x1]
            0x45, 0x85, 0xDB,                                     // +0x1c2: test r11d,r11d
            0x74, 0x07,                                           // +0x1c5: je +0x1ce
            0x41, 0xFF, 0xCB,                                     // +0x1c7: dec r11d
            0x45, 0x88, 0x5A, 0x08,                               // +0x1ca: mov BYTE PTR [r10+0x8],r11b
            // The registers back, then on to read the (maybe new) universe.
            0x48, 0x8B, 0x44, 0x24, 0xE8,                         // +0x1ce: mov rax,QWORD PTR [rsp-0x18]
            0x48, 0x8B, 0x4C, 0x24, 0xE0,                         // +0x1d3: mov rcx,QWORD PTR [rsp-0x20]
            0x48, 0x8B, 0x54, 0x24, 0xD8,                         // +0x1d8: mov rdx,QWORD PTR [rsp-0x28]
            0x48, 0x8B, 0x74, 0x24, 0xD0,                         // +0x1dd: mov rsi,QWORD PTR [rsp-0x30]
            0x48, 0x8B, 0x7C, 0x24, 0xC8,                         // +0x1e2: mov rdi,QWORD PTR [rsp-0x38]
            0x4C, 0x8B, 0x44, 0x24, 0xC0,                         // +0x1e7: mov r8,QWORD PTR [rsp-0x40]
            0x4C, 0x8B, 0x4C, 0x24, 0xB8,                         // +0x1ec: mov r9,QWORD PTR [rsp-0x48]
            0xE9, 0x72, 0xFE, 0xFF, 0xFF,                         // +0x1f1: jmp +0x68
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,       // +0x1f6: int3 up to the words
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,
            0xCC, 0xCC,
            0x15, 0x7C, 0x4A, 0x7F, 0xB9, 0x79, 0x37, 0x9E,       // +0x210: dq 0x9e3779b97f4a7c15 (hash multiplier)
            0x00, 0x00, 0x00, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0x218: dq 0x7f1234000000 (table header)
            0x40, 0x00, 0x00, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0x220: dq 0x7f1234000040 (entries start)
            0x40, 0x00, 0x04, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0x228: dq 0x7f1234040040 (entries end: the ranges follow)
            0x10, 0x00, 0x50, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0x230: dq 0x7f1234500010 (old target: the slot's copy)
            0x00, 0x00, 0x60, 0x34, 0x12, 0x7F, 0x00, 0x00,       // +0x238: dq 0x7f1234600000 (new target)
        ];
        Assert.Equal(expected, stub);
        Assert.Equal(SlotLayout.DispatcherCapacity, stub.Length);
    }

    [Fact]
    public void OnlyTheWordsDependOnTheAddresses()
    {
        byte[] stub = DispatcherCode.Build(StubAddress, ThreadTable, OldTarget, NewTarget);

        byte[] elsewhere = DispatcherCode.Build(0x1000, 0x7fff_fffe_0000, 0x2000, 0x3000);

        Assert.Equal(stub[..0x210], elsewhere[..0x210]);
        Assert.Equal(
            [0x7fff_fffe_0000UL, 0x7fff_fffe_0040UL, 0x7fff_fffe_0000UL + ThreadTableLayout.RangesOffset, 0x2000UL, 0x3000UL],
            Words(elsewhere)[1..]);
    }

    [Theory]
    [InlineData(0x7f12_3450_0044UL)]
    [InlineData(ulong.MaxValue - 7)]
    [InlineData(ulong.MaxValue - 567)] // aligned, but 576 bytes do not fit below the end of the address space
    public void StubAddressMustBeAlignedAndLeaveRoomForTheStub(ulong stubAddress)
    {
        var exception = Assert.Throws<ArgumentException>(() => DispatcherCode.Build(stubAddress, ThreadTable, OldTarget, NewTarget));

        Assert.Equal("stubAddress", exception.ParamName);
        Assert.StartsWith($"a dispatcher needs 576 bytes at an 8-byte aligned address; 0x{stubAddress:x} is not one", exception.Message);
    }

    [Theory]
    [InlineData(0x7f12_3400_0001UL)]
    [InlineData(ulong.MaxValue - 0x4_0000 - 7)] // aligned, but the table's 295008 bytes do not fit
    public void ThreadTableMustBeAlignedAndLeaveRoomForTheTable(ulong threadTable)
    {
        var exception = Assert.Throws<ArgumentException>(() => DispatcherCode.Build(StubAddress, threadTable, OldTarget, NewTarget));

        Assert.Equal("threadTable", exception.ParamName);
        Assert.StartsWith($"a thread table needs 295008 bytes at an 8-byte aligned address; 0x{threadTable:x} is not one", exception.Message);
    }

    private static ulong[] Words(byte[] stub)
    {
        return [.. stub[0x210..].Chunk(8).Select(word => BitConverter.ToUInt64(word))];
    }

    [Theory]
    [InlineData(0x00, 0xA0UL, 0xB0UL)] // before the first store: the registers are the entry's
    [InlineData(0x05, 0x8A0UL, 0xB0UL)] // r10 saved, r11 not yet
    [InlineData(0x0a, 0x8A0UL, 0x8B0UL)] // both saved: the ones in the registers are the dispatcher's own
    [InlineData(0x86, 0x8A0UL, 0x8B0UL)] // both restored already: the red zone still holds them
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

    [Theory]
    [InlineData(0x92)] // the first save of the self-switch
    [InlineData(0x1f1)] // its jump back to the universe test
    public void AThreadStoppedInTheSelfSwitchIsNotPutBack(int offset)
    {
        Assert.Equal(0x92, DispatcherCode.SelfSwitchFrom);
        Assert.Null(DispatcherCode.EntryRegisters(offset, 0x7ffd_0000_1000, 0xA0, 0xB0, _ => 0));
    }
}
