using Graft.X86.Contract;

namespace Graft.X86.Tests;

public sealed class PreservingEntryTests
{
    [Fact]
    public void StubCallsThroughItsWordAndCarriesTheDescriptorGraftPreserveReads()
    {
        var plan = new PreservePlan(0x7f00_0000_2000, RegisterSet.GeneralCallerSaved, SaveVectors: true, StackArgumentBytes: 16, PassVectorReturn: true);
        var vectors = new XSaveComponents(0xE6, 2752, 4);

        byte[] stub = PreservingEntry.Build(0x7f00_0000_1000, plan, vectors);

        byte[] expected =
        [
            0xFF, 0x15, 0x02, 0x00, 0x00, 0x00,             // +0x00: call QWORD PTR [rip+0x2] (+0x08), pushing +0x06
            0xCC, 0xCC,                                     // +0x06: int3 padding
            0x00, 0x10, 0x00, 0x00, 0x00, 0x7F, 0x00, 0x00, // +0x08: graft_preserve
            0x00, 0x20, 0x00, 0x00, 0x00, 0x7F, 0x00, 0x00, // +0x10: descriptor (pushed address + 10): the replacement
            0xC7, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // +0x18: general registers to restore: rax rcx rdx rsi rdi r8-r11
            0xE6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // +0x20: XSAVE components
            0xC0, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // +0x28: XSAVE area size, 2752
            0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // +0x30: stack argument bytes
            0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // +0x38: flags: pass xmm0/xmm1 back, zmm wide
        ];
        Assert.Equal(expected, stub);
        Assert.Equal(SlotLayout.PreserveCapacity, stub.Length);
        Assert.Equal(16, PreservingEntry.DescriptorStart);
    }

    [Fact]
    public void WithoutVectorsToKeepNoXSaveIsAsked()
    {
        var plan = new PreservePlan(1, RegisterSet.Of(Iced.Intel.Register.RSI), SaveVectors: false, StackArgumentBytes: 0, PassVectorReturn: false);

        byte[] stub = PreservingEntry.Build(2, plan, new XSaveComponents(0xE6, 2752, 4));

        Assert.Equal(0x40UL, BitConverter.ToUInt64(stub, 0x18));
        Assert.Equal(0UL, BitConverter.ToUInt64(stub, 0x20));
        Assert.Equal(0UL, BitConverter.ToUInt64(stub, 0x28));
        Assert.Equal(4UL, BitConverter.ToUInt64(stub, 0x38));
    }
}
