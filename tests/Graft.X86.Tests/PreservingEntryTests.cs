using Graft.X86.Contract;

namespace Graft.X86.Tests;

public sealed class PreservingEntryTests
{
    private const ulong Stub = 0x7f00_0000_3100;

    [Fact]
    public void StubPushesItsDescriptorAndJumpsToGraftPreserve()
    {
        var plan = new PreservePlan(0x7f00_0000_2000, RegisterSet.GeneralCallerSaved, SaveVectors: true, StackArgumentBytes: 16, PassVectorReturn: true);
        var vectors = new XSaveComponents(0xE6, 2752, 4);

        byte[] stub = PreservingEntry.Build(Stub, 0x7f00_0000_1000, plan, vectors);

        byte[] expected =
        [
            0xFF, 0x35, 0x0A, 0x00, 0x00, 0x00,             // +0x00: push QWORD PTR [rip+0xa] (+0x10)
            0xFF, 0x25, 0x0C, 0x00, 0x00, 0x00,             // +0x06: jmp QWORD PTR [rip+0xc] (+0x18)
            0xCC, 0xCC, 0xCC, 0xCC,                         // +0x0c: int3 padding
            0x20, 0x31, 0x00, 0x00, 0x00, 0x7F, 0x00, 0x00, // +0x10: the descriptor's address, +0x20
            0x00, 0x10, 0x00, 0x00, 0x00, 0x7F, 0x00, 0x00, // +0x18: graft_preserve
            0x00, 0x20, 0x00, 0x00, 0x00, 0x7F, 0x00, 0x00, // +0x20: descriptor: the replacement
            0xE6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // +0x28: XSAVE components
            0xC0, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // +0x30: XSAVE area size, 2752
            0xC7, 0x0F, 0x05, 0x00, 0x10, 0x00, 0x00, 0x00, // +0x38: rax rcx rdx rsi rdi r8-r11; pass xmm0/1, zmm; 16 bytes of arguments
        ];
        Assert.Equal(expected, stub);
        Assert.Equal(SlotLayout.PreserveCapacity, stub.Length);
    }

    [Fact]
    public void WithoutVectorsToKeepNoXSaveIsAsked()
    {
        var plan = new PreservePlan(1, RegisterSet.Of(Iced.Intel.Register.RSI), SaveVectors: false, StackArgumentBytes: 0, PassVectorReturn: false);

        byte[] stub = PreservingEntry.Build(Stub, 2, plan, new XSaveComponents(0xE6, 2752, 4));

        Assert.Equal(0UL, BitConverter.ToUInt64(stub, 0x28));
        Assert.Equal(0UL, BitConverter.ToUInt64(stub, 0x30));
        Assert.Equal(0x4_0040UL, BitConverter.ToUInt64(stub, 0x38));
    }
}
