using System.Buffers.Binary;
using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

/// <summary>What glibc's loader would trip over in a mapped object is refused by <see cref="LoadableCheck"/>; real libraries pass.</summary>
public sealed class LoadableCheckTests
{
    private const int ProgramHeaderSize = 56;

    [Fact]
    public void RealLibrariesPass()
    {
        LoadableCheck.Run(ElfFile.Load(SystemFiles.Libc));
        LoadableCheck.Run(ElfFile.Load(SystemFiles.DynamicLinker));
    }

    [Theory]
    [InlineData(ElfSegmentType.Note, "segment of type 0x4")]
    [InlineData(ElfSegmentType.Dynamic, "segment of type 0x2")]
    public void SegmentOutsideEveryLoadIsRefused(uint type, string message)
    {
        var image = File.ReadAllBytes(SystemFiles.Libc);
        var header = ProgramHeader(image, type);
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(header + 0x10), 0x4000_0000_0000);

        Assert.StartsWith(message, Assert.Throws<ElfFormatException>(() => LoadableCheck.Run(ElfFile.Parse(image))).Message);
    }

    [Fact]
    public void GnuHashWithTooManyBucketsIsRefused()
    {
        var image = File.ReadAllBytes(SystemFiles.Libc);
        var hash = ElfFile.Parse(image).FindSection(".gnu.hash")!;
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan((int)hash.Offset), 0x00ca_0000);

        Assert.Contains("DT_GNU_HASH", Assert.Throws<ElfFormatException>(() => LoadableCheck.Run(ElfFile.Parse(image))).Message);
    }

    [Fact]
    public void RelocationOutsideWritableDataIsRefused()
    {
        var image = File.ReadAllBytes(SystemFiles.Libc);
        var relocations = ElfFile.Parse(image).FindSection(".rela.dyn")!;
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan((int)relocations.Offset), 0x1000);

        Assert.StartsWith("a relocation at 0x1000", Assert.Throws<ElfFormatException>(() => LoadableCheck.Run(ElfFile.Parse(image))).Message);
    }

    private static int ProgramHeader(byte[] image, uint type)
    {
        var table = (int)BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(0x20));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(0x38));
        return Enumerable.Range(0, count).Select(i => table + (i * ProgramHeaderSize))
            .First(at => BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(at)) == type);
    }
}
