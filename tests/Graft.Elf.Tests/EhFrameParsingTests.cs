using Graft.Elf.Dwarf;
using Graft.Elf.Tests.Support;

using static Graft.Elf.Tests.Support.EhFrameBuilder;

namespace Graft.Elf.Tests;

public sealed class EhFrameParsingTests
{
    private const ulong SectionAddress = 0x40_0000;
    private static readonly byte[] DefCfaRsp8 = [0x0c, 0x07, 0x08, 0x90, 0x01];

    [Fact]
    public void SixtyFourBitLengthsAndAbsolutePointers()
    {
        var builder = new EhFrameBuilder();
        int cie = builder.AddCie(string.Empty, [], DefCfaRsp8, dwarf64: true);
        builder.AddFde(cie, [.. U64(0x1000), .. U64(0x20)], null, [], dwarf64: true);

        FrameDescription fde = Assert.Single(EhFrameTable.Parse(builder.Build(), SectionAddress).Entries);

        Assert.Equal(0x1000UL, fde.InitialLocation);
        Assert.Equal(0x20UL, fde.AddressRange);
        Assert.False(fde.IsSignalFrame);
        Assert.Equal(16, fde.ReturnAddressRegister);
        Assert.Equal(new CfaRule.RegisterOffset(7, 8), fde.ComputeRow(0x1010).Cfa);
    }

    [Theory]
    [InlineData((byte)0x02, new byte[] { 0x00, 0x10, 0x20, 0x00 })]                           // udata2
    [InlineData((byte)0x03, new byte[] { 0x00, 0x10, 0, 0, 0x20, 0, 0, 0 })]                 // udata4
    [InlineData((byte)0x0a, new byte[] { 0x00, 0x10, 0x20, 0x00 })]                           // sdata2
    [InlineData((byte)0x0c, new byte[] { 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0 })] // sdata8
    [InlineData((byte)0x01, new byte[] { 0x80, 0x20, 0x20 })]                                 // uleb128
    [InlineData((byte)0x09, new byte[] { 0x80, 0x20, 0x20 })]                                 // sleb128
    public void PointerFormats(byte encoding, byte[] addresses)
    {
        var builder = new EhFrameBuilder();
        int cie = builder.AddCie("zR", [encoding], DefCfaRsp8);
        builder.AddFde(cie, addresses, [], []);

        FrameDescription fde = Assert.Single(EhFrameTable.Parse(builder.Build(), SectionAddress).Entries);

        Assert.Equal(0x1000UL, fde.InitialLocation);
        Assert.Equal(0x20UL, fde.AddressRange);
    }

    [Fact]
    public void PcRelativePointersAndPersonalityWithLsda()
    {
        var builder = new EhFrameBuilder();
        // zPLR: personality indirect|pcrel|sdata4 (skipped, never followed), LSDA pcrel|sdata4, FDE pcrel|sdata4.
        int cie = builder.AddCie("zPLRS", [0x9b, .. U32(0x1234), 0x1b, 0x1b], DefCfaRsp8);
        int field = builder.NextFdeAddressField();
        ulong target = 0x40_2000;
        builder.AddFde(cie, [.. U32((uint)(target - (SectionAddress + (ulong)field))), .. U32(0x40)], U32(0xdead), []);

        FrameDescription fde = Assert.Single(EhFrameTable.Parse(builder.Build(), SectionAddress).Entries);

        Assert.Equal(target, fde.InitialLocation);
        Assert.Equal(0x40UL, fde.AddressRange);
        Assert.True(fde.IsSignalFrame);
    }

    [Fact]
    public void ParsingStopsAtTheZeroTerminator()
    {
        var builder = new EhFrameBuilder();
        int cie = builder.AddCie(string.Empty, [], DefCfaRsp8);
        builder.AddFde(cie, [.. U64(0x1000), .. U64(0x10)], null, []);
        byte[] withGarbage = [.. builder.Build(), 0xde, 0xad, 0xbe, 0xef, 0x01];

        Assert.Single(EhFrameTable.Parse(withGarbage, SectionAddress).Entries);
    }

    [Fact]
    public void EntriesAreSortedAndEmptyOnesAreNotFound()
    {
        var builder = new EhFrameBuilder();
        int cie = builder.AddCie(string.Empty, [], DefCfaRsp8);
        builder.AddFde(cie, [.. U64(0x3000), .. U64(0x10)], null, []);
        builder.AddFde(cie, [.. U64(0x1000), .. U64(0x10)], null, []);
        builder.AddFde(cie, [.. U64(0x1000), .. U64(0)], null, []);

        EhFrameTable table = EhFrameTable.Parse(builder.Build(), SectionAddress);

        Assert.Equal([0x1000UL, 0x1000UL, 0x3000UL], table.Entries.Select(e => e.InitialLocation));
        Assert.Equal(0x10UL, table.Find(0x1000)!.AddressRange);
        Assert.Null(table.Find(0x2000));
        Assert.Equal(0x3000UL, table.Find(0x300f)!.InitialLocation);
    }

    [Theory]
    [InlineData(new byte[] { 0x10, 0, 0, 0, 0, 0, 0, 0 }, "past the end of the section")]
    [InlineData(new byte[] { 0x08, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0 }, "which is not a CIE")]
    [InlineData(new byte[] { 0x08, 0, 0, 0, 0, 0, 0, 0, 0x09, 0, 0, 0 }, "unsupported version 9")]
    [InlineData(new byte[] { 0x0c, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x65, 0x68, 0x00, 0x01, 0x78, 0x10, 0 }, "unsupported augmentation \"eh\"")]
    public void MalformedSectionsThrowElfFormatException(byte[] section, string message)
    {
        ElfFormatException error = Assert.Throws<ElfFormatException>(() => EhFrameTable.Parse(section, SectionAddress));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void IndirectFdeEncodingIsRefused()
    {
        var builder = new EhFrameBuilder();
        int cie = builder.AddCie("zR", [0x9b], DefCfaRsp8);
        builder.AddFde(cie, [.. U32(0), .. U32(0x10)], [], []);

        ElfFormatException error = Assert.Throws<ElfFormatException>(() => EhFrameTable.Parse(builder.Build(), SectionAddress));
        Assert.Contains("indirect pointer encoding 0x9b", error.Message);
    }
}
