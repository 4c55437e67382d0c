using Graft.Elf.Dwarf;
using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

/// <summary>The two FDEs an unwinder of live threads meets that use expressions instead of rsp+offset.</summary>
public sealed class RealWorldFramesTests
{
    private const int Rsp = 7;
    private const int ReturnAddress = 16;

    [Fact]
    public void LibcSignalTrampolineRecoversTheInterruptedContext()
    {
        ElfFile libc = ElfFile.Load(SystemFiles.Libc);
        FrameDescription restorer = Assert.Single(libc.EhFrame!.Entries, f => f.IsSignalFrame);

        // The FDE starts one byte early (a nop) so that unwinders looking up "return address - 1" find it;
        // __restore_rt itself is "mov $15, %rax; syscall" (rt_sigreturn).
        var code = new byte[9];
        Assert.True(libc.TryReadAtAddress(restorer.InitialLocation + 1, code));
        Assert.Equal(new byte[] { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 }, code);

        CfiRow row = restorer.ComputeRow(restorer.InitialLocation + 1);
        var cfa = Assert.IsType<CfaRule.Expression>(row.Cfa);
        Assert.Equal(new byte[] { 0x77, 0xa0, 0x01, 0x06 }, cfa.Bytes.ToArray());

        // rsp points at the ucontext_t: uc_mcontext.gregs[REG_RSP] is at rsp+160, gregs[REG_RIP] at rsp+168.
        var machine = new FakeMachine();
        machine.Registers[Rsp] = 0x7ffd_1000;
        machine.Memory[0x7ffd_1000 + 160] = 0x7ffd_2000;
        machine.Memory[0x7ffd_1000 + 168] = 0x5555_1234;
        ulong cfaValue = DwarfExpression.Evaluate(cfa.Bytes.Span, machine);
        Assert.Equal(0x7ffd_2000UL, cfaValue);

        var ripRule = Assert.IsType<RegisterRule.Expression>(row.GetRule(ReturnAddress));
        ulong ripSlot = DwarfExpression.Evaluate(ripRule.Bytes.Span, machine, cfaValue);
        Assert.Equal(0x5555_1234UL, machine.ReadMemory(ripSlot));
        Assert.All(Enumerable.Range(0, 17), r => Assert.IsType<RegisterRule.Expression>(row.GetRule(r)));
    }

    [Fact]
    public void PltFrameOfAPieExecutableAccountsForThePushInsideEachStub()
    {
        ElfFile ls = ElfFile.Load(SystemFiles.Ls);
        ElfSection plt = ls.FindSection(".plt")!;
        FrameDescription fde = ls.EhFrame!.Find(plt.Address + 0x10)!;
        Assert.Equal(plt.Address, fde.InitialLocation);

        Assert.Equal(new CfaRule.RegisterOffset(Rsp, 16), fde.ComputeRow(plt.Address).Cfa);
        Assert.Equal(new CfaRule.RegisterOffset(Rsp, 24), fde.ComputeRow(plt.Address + 6).Cfa);
        var expression = Assert.IsType<CfaRule.Expression>(fde.ComputeRow(plt.Address + 0x10).Cfa);

        // Each 16-byte stub is "jmp *GOT; push index; jmp PLT0": from offset 11 on, the push has happened.
        var machine = new FakeMachine();
        machine.Registers[Rsp] = 0x7ffd_0000;
        foreach ((ulong offset, ulong expected) in new[] { (0UL, 8UL), (6UL, 8UL), (10UL, 8UL), (11UL, 16UL), (15UL, 16UL) })
        {
            machine.Registers[ReturnAddress] = plt.Address + 0x20 + offset;
            Assert.Equal(0x7ffd_0000 + expected, DwarfExpression.Evaluate(expression.Bytes.Span, machine));
        }

        Assert.Equal(new RegisterRule.Offset(-8), fde.ComputeRow(plt.Address + 0x10).GetRule(ReturnAddress));
    }

    [Fact]
    public void ObjectWithoutSectionHeadersFindsEhFrameThroughPtGnuEhFrame()
    {
        byte[] image = File.ReadAllBytes(SystemFiles.Ls);
        EhFrameTable withSections = ElfFile.Parse(image).EhFrame!;

        // Drop e_shoff, e_shnum and e_shstrndx, as a stripped-to-the-bone or in-memory image would have.
        Array.Clear(image, 0x28, 8);
        Array.Clear(image, 0x3c, 4);
        ElfFile bare = ElfFile.Parse(image);
        Assert.Empty(bare.Sections);
        EhFrameTable viaHeader = bare.EhFrame!;

        Assert.Equal(
            withSections.Entries.Select(f => (f.InitialLocation, f.AddressRange)),
            viaHeader.Entries.Select(f => (f.InitialLocation, f.AddressRange)));
        Assert.Equal(ElfFile.Parse(File.ReadAllBytes(SystemFiles.Ls)).BuildId, bare.BuildId);
        Assert.Empty(bare.DynamicSymbols);
        Assert.NotEmpty(bare.DynamicEntries);
    }
}
