using static Graft.X86.ThreadTableLayout;

namespace Graft.X86.Tests;

public sealed class ThreadTableLayoutTests
{
    [Fact]
    public void TableIsAHeaderThen4096EntriesOf64BytesThen2048Ranges()
    {
        Assert.Equal(64UL, EntryOffset(0));
        Assert.Equal(128UL, EntryOffset(1));
        Assert.Equal(262144UL, EntryOffset(Capacity - 1));
        Assert.Equal(262208, RangesOffset);
        Assert.Equal(262208 + 32 + (2048 * 16), Size);
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

    [Fact]
    public void RangesAreSortedAndMergedWhereTheyOverlapOrTouch()
    {
        byte[] bytes = EncodeRanges([(0x5000, 0x5100), (0x1000, 0x1100), (0x10f0, 0x1200), (0x1200, 0x1300), (0x9000, 0x9000)]);

        Assert.Equal([2UL, 0x1000UL, 0x5100UL, 0UL, 0x1000UL, 0x1300UL, 0x5000UL, 0x5100UL], Words(bytes));
    }

    [Fact]
    public void PastTheCapacityNeighboursMergeUntilTheyFitCoveringAllTheyDid()
    {
        (ulong Start, ulong End)[] ranges = [.. Enumerable.Range(0, RangesCapacity + 1).Select(i => ((ulong)i * 0x100, ((ulong)i * 0x100) + 0x10))];

        ulong[] words = Words(EncodeRanges(ranges));

        Assert.Equal((ulong)(RangesCapacity / 2) + 1, words[0]);
        Assert.Equal([0UL, 0x110UL], words[4..6]);
        Assert.Equal([(ulong)RangesCapacity * 0x100, ((ulong)RangesCapacity * 0x100) + 0x10], words[^2..]);
        Assert.Equal(((ulong)RangesCapacity * 0x100) + 0x10, words[2]);
    }

    [Fact]
    public void NoRangesIsACountOfZero()
    {
        Assert.Equal([0UL, 0UL, 0UL, 0UL], Words(EncodeRanges([])));
    }

    private static ulong[] Words(byte[] bytes) => [.. bytes.Chunk(8).Select(word => BitConverter.ToUInt64(word))];
}
