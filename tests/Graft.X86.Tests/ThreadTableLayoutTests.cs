using static Graft.X86.ThreadTableLayout;

namespace Graft.X86.Tests;

public sealed class ThreadTableLayoutTests
{
    [Fact]
    public void TableIsAHeaderThen4096EntriesOf16Bytes()
    {
        Assert.Equal(65600, Size);
        Assert.Equal(64UL, EntryOffset(0));
        Assert.Equal(80UL, EntryOffset(1));
        Assert.Equal(65584UL, EntryOffset(Capacity - 1));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(Capacity)]
    public void EntryOffsetRefusesAnIndexOutsideTheTable(int index)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EntryOffset(index));
    }

    // Expected values from Python: ((key * 0x9E3779B97F4A7C15) % 2**64) >> 52.
    [Theory]
    [InlineData(0x7f12_3456_7640UL, 2447)]
    [InlineData(0x7fff_f7d8_a740UL, 693)]
    [InlineData(1UL, 2531)]
    [InlineData(ulong.MaxValue, 1564)]
    public void HomeIndexIsTheTopTwelveBitsOfTheFibonacciProduct(ulong threadPointer, int expected)
    {
        Assert.Equal(expected, HomeIndex(threadPointer));
    }

    [Theory]
    [InlineData(0x80_1000UL)] // 8 MiB default stacks plus a guard page
    [InlineData(0x2_1000UL)]  // 128 KiB stacks plus a guard page
    public void ThreadPointersOfStacksInARowHaveDistinctHomes(ulong stride)
    {
        IEnumerable<int> homes = Enumerable.Range(0, 64).Select(thread => HomeIndex(0x7f00_0000_06c0 + ((ulong)thread * stride)));

        Assert.Equal(64, homes.Distinct().Count());
    }

    [Fact]
    public void ProbeSequenceStartsAtHomeAndVisitsEveryEntryOnceWrappingAtTheEnd()
    {
        const ulong threadPointer = 0x7f12_3456_7640;

        int[] sequence = [.. ProbeSequence(threadPointer)];

        Assert.Equal(Capacity, sequence.Length);
        Assert.Equal([2447, 2448, 2449], sequence[..3]);
        Assert.Equal([4094, 4095, 0, 1], sequence[(Capacity - 1 - 2447 - 1)..(Capacity - 2447 + 2)]);
        Assert.Equal(2446, sequence[^1]);
        Assert.Equal(Capacity, sequence.Distinct().Count());
    }

    [Fact]
    public void ProbeSequenceRefusesTheEmptyKey()
    {
        var exception = Assert.Throws<ArgumentException>(() => ProbeSequence(0));

        Assert.StartsWith("0 marks an empty entry of the thread table; it cannot be a thread pointer", exception.Message);
    }
}
