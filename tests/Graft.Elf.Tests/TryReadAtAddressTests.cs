using System.Globalization;
using System.Text.RegularExpressions;

using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

public sealed partial class TryReadAtAddressTests
{
    [RequiresToolsFact("objdump")]
    public void FunctionBytesMatchObjdump()
    {
        ElfFile libc = ElfFile.Load(SystemFiles.Libc);
        ElfSymbol malloc = libc.DynamicSymbols.First(s => s.Name == "malloc");
        string listing = ExternalTool.Run("objdump", "-d", $"--start-address=0x{malloc.Value:x}",
            $"--stop-address=0x{malloc.Value + 32:x}", SystemFiles.Libc);
        byte[] expected = ObjdumpLine().Matches(listing)
            .SelectMany(m => m.Groups["bytes"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(b => byte.Parse(b, NumberStyles.HexNumber, CultureInfo.InvariantCulture))
            .Take(32)
            .ToArray();

        var actual = new byte[32];
        Assert.True(libc.TryReadAtAddress(malloc.Value, actual));
        Assert.Equal(32, expected.Length);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void BytesMatchTheFileOffsetComputedFromTheSection()
    {
        byte[] file = File.ReadAllBytes(SystemFiles.Ls);
        ElfFile ls = ElfFile.Parse(file);
        ElfSection text = ls.FindSection(".text")!;
        ulong address = text.Address + 0x123;

        var actual = new byte[64];
        Assert.True(ls.TryReadAtAddress(address, actual));
        Assert.Equal(file.AsSpan((int)(text.Offset + 0x123), 64).ToArray(), actual);
    }

    [Fact]
    public void BssReadsAsZeroAndUnmappedAddressesFail()
    {
        ElfFile ls = ElfFile.Load(SystemFiles.Ls);
        ElfSection bss = ls.FindSection(".bss")!;
        ElfSegment lastLoad = ls.Segments.Last(s => s.Type == ElfSegmentType.Load);
        byte[] buffer = Enumerable.Repeat((byte)0xcc, 16).ToArray();

        Assert.True(ls.TryReadAtAddress(bss.Address, buffer));
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.False(ls.TryReadAtAddress(lastLoad.VirtualAddress + lastLoad.MemorySize - 4, new byte[8]));
        Assert.False(ls.TryReadAtAddress(0x7fff_0000_0000, new byte[1]));
        Assert.True(ls.TryReadAtAddress(0x7fff_0000_0000, []));
    }

    [Fact]
    public void ReadsUpToTheEndOfASegmentButNotIntoTheGapAfterIt()
    {
        ElfFile ls = ElfFile.Load(SystemFiles.Ls);
        ElfSegment[] loads = ls.Segments.Where(s => s.Type == ElfSegmentType.Load).ToArray();
        ElfSegment first = loads[0];
        ulong end = first.VirtualAddress + first.MemorySize;
        Assert.DoesNotContain(loads, s => s.VirtualAddress == end);

        Assert.True(ls.TryReadAtAddress(end - 8, new byte[8]));
        Assert.False(ls.TryReadAtAddress(end - 4, new byte[8]));
    }

    [GeneratedRegex(@"^\s*[0-9a-f]+:\t(?<bytes>(?:[0-9a-f]{2} )+)", RegexOptions.Multiline)]
    private static partial Regex ObjdumpLine();
}
