using System.Buffers.Binary;
using Graft.Patching.Tests.Support;
using Graft.Patching.Transitions;
using Graft.X86;

namespace Graft.Patching.Tests.Transitions;

public sealed class ThreadTableTests
{
    // Where the state mapping of StateLayout would put the table; any address serves.
    private const ulong TableAddress = 0x7f00_0000_3000;

    private readonly MemoryImage image = new();
    private readonly byte[] table;

    public ThreadTableTests() => table = image.Map(TableAddress, ThreadTableLayout.Size);

    [Fact]
    public void CreateClearsWhatWasThereAndPutsEveryThreadInTheUnknownUniverse()
    {
        // A table the previous transition left, in the way.
        Array.Fill(table, (byte)0xab);

        var created = ThreadTable.Create(image, TableAddress, Universe.New);

        Assert.Equal(ThreadTableLayout.NewUniverse, table[ThreadTableLayout.DefaultUniverseOffset]);
        Assert.Equal(-1, table.AsSpan(1).IndexOfAnyExcept((byte)0));
        Assert.Equal(0, created.Count);
        Assert.Equal(Universe.New, created.Unknown);
        Assert.False(created.Knows(0x7f12_3456_7640));
        Assert.Equal(Universe.New, created.UniverseOf(0x7f12_3456_7640));
        Assert.Equal(ThreadTableLayout.NewUniverse, DispatcherLookup(0x7f12_3456_7640));
    }

    [Fact]
    public void SetPutsAThreadAtItsHomeIndexThenChangesOnlyItsUniverseByte()
    {
        const ulong threadPointer = 0x7f12_3456_7640; // home index 2447 (ThreadTableLayoutTests)
        var threads = ThreadTable.Create(image, TableAddress, Universe.Old);

        threads.Set(threadPointer, Universe.New);

        // Entry 2447: the 8-byte key, little-endian, then the universe byte; the rest (no stack bounds) stays zero.
        var entry = Entry(2447);
        Assert.Equal(threadPointer, BinaryPrimitives.ReadUInt64LittleEndian(entry));
        Assert.Equal(ThreadTableLayout.NewUniverse, entry[8]);
        Assert.Equal(-1, entry[9..].IndexOfAnyExcept((byte)0));
        Assert.Equal(Universe.New, threads.UniverseOf(threadPointer));
        Assert.Equal(ThreadTableLayout.NewUniverse, DispatcherLookup(threadPointer));

        var before = table.ToArray();
        threads.Set(threadPointer, Universe.Old);

        var changed = Enumerable.Range(0, table.Length).Where(i => table[i] != before[i]).ToArray();
        Assert.Equal([(int)ThreadTableLayout.EntryOffset(2447) + ThreadTableLayout.EntryUniverseOffset], changed);
        Assert.Equal(Universe.Old, threads.UniverseOf(threadPointer));
        Assert.Equal(1, threads.Count);
    }

    [Fact]
    public void AThreadThatSwitchedLeavesTheUnknownUniverseForEveryOther()
    {
        const ulong switched = 0x7f12_3456_7640;
        var threads = ThreadTable.Create(image, TableAddress, Universe.Old);

        threads.Set(switched, Universe.New);

        Assert.Equal(ThreadTableLayout.OldUniverse, table[ThreadTableLayout.DefaultUniverseOffset]);
        Assert.Equal(Universe.New, threads.UniverseOf(switched));
        Assert.Equal(Universe.Old, threads.UniverseOf(0x7fff_f7d8_a740));
        Assert.Equal(ThreadTableLayout.NewUniverse, DispatcherLookup(switched));
        Assert.Equal(ThreadTableLayout.OldUniverse, DispatcherLookup(0x7fff_f7d8_a740));
    }

    [Fact]
    public void ThreadsSharingAHomeTakeTheNextEntriesWrappingFromTheLastToTheFirst()
    {
        var threads = ThreadTable.Create(image, TableAddress, Universe.Old);
        var last = ThreadTableLayout.Capacity - 1;
        ulong[] atLast = [WithHome(last, 1), WithHome(last, 2)];
        var atFirst = WithHome(0, 1);

        threads.Set(atLast[0], Universe.New);
        threads.Set(atLast[1], Universe.Old);
        threads.Set(atFirst, Universe.New);

        // The second thread homed at the last entry wraps to entry 0, which pushes the one homed there to entry 1.
        Assert.Equal(atLast[0], KeyAt(last));
        Assert.Equal(atLast[1], KeyAt(0));
        Assert.Equal(atFirst, KeyAt(1));
        Assert.Equal(ThreadTableLayout.NewUniverse, DispatcherLookup(atLast[0]));
        Assert.Equal(ThreadTableLayout.OldUniverse, DispatcherLookup(atLast[1]));
        Assert.Equal(ThreadTableLayout.NewUniverse, DispatcherLookup(atFirst));
    }

    [Fact]
    public void LoadReadsTheTableAnEarlierGraftLeftAndInsertsAroundItsEntries()
    {
        // Header: unknown threads in the new universe. Two threads homed at entry 100 (the second
        // one probed on to 101), one at entry 7.
        ulong[] at100 = [WithHome(100, 1), WithHome(100, 2)];
        var at7 = WithHome(7, 1);
        table[ThreadTableLayout.DefaultUniverseOffset] = ThreadTableLayout.NewUniverse;
        PutEntry(100, at100[0], ThreadTableLayout.NewUniverse);
        PutEntry(101, at100[1], ThreadTableLayout.OldUniverse);
        PutEntry(7, at7, ThreadTableLayout.NewUniverse);

        var loaded = ThreadTable.Load(image, TableAddress);

        Assert.Equal(3, loaded.Count);
        Assert.Equal(Universe.New, loaded.Unknown);
        Assert.Equal(Universe.New, loaded.UniverseOf(at100[0]));
        Assert.Equal(Universe.Old, loaded.UniverseOf(at100[1]));
        Assert.Equal(Universe.New, loaded.UniverseOf(at7));
        Assert.True(loaded.Knows(at7));

        // A third thread homed at 100 goes past both entries the loaded table holds.
        var third = WithHome(100, 3);
        loaded.Set(third, Universe.Old);
        Assert.Equal(third, KeyAt(102));
        Assert.Equal(ThreadTableLayout.OldUniverse, DispatcherLookup(third));
    }

    [Fact]
    public void AFullTableRefusesOneThreadMoreAndKeepsEmptyEntriesToEndTheDispatchersSearch()
    {
        var threads = ThreadTable.Create(image, TableAddress, Universe.Old);
        for (var home = 0; home < ThreadTable.MaxThreads; home++)
        {
            threads.Set(WithHome(home, 1), Universe.New);
        }

        var refused = Assert.Throws<GraftException>(() => threads.Set(WithHome(0, 2), Universe.New));

        Assert.Equal(GraftFailure.Refused, refused.Failure);
        Assert.Equal(ThreadTable.MaxThreads, threads.Count);
        Assert.Equal(ThreadTableLayout.Capacity - ThreadTable.MaxThreads, Enumerable.Range(0, ThreadTableLayout.Capacity).Count(i => KeyAt(i) == 0));
        Assert.Equal(ThreadTableLayout.OldUniverse, DispatcherLookup(WithHome(0, 2)));
    }

    [Fact]
    public void AddWritesTheStackBoundsBeforeTheKeyAndRefreshReadsWhatAThreadSwitchedItself()
    {
        const ulong threadPointer = 0x7f12_3456_7640; // home index 2447
        var threads = ThreadTable.Create(image, TableAddress, Universe.Old);

        threads.Add(threadPointer, Universe.Old, (0x7f12_3400_0000, threadPointer));

        var entry = Entry(2447);
        Assert.Equal(threadPointer, BinaryPrimitives.ReadUInt64LittleEndian(entry));
        Assert.Equal(0x7f12_3400_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(entry[ThreadTableLayout.EntryStackLowOffset..]));
        Assert.Equal(threadPointer, BinaryPrimitives.ReadUInt64LittleEndian(entry[ThreadTableLayout.EntryStackHighOffset..]));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(entry[ThreadTableLayout.EntryLastCheckOffset..]));

        // The thread's dispatcher stores the goal; Graft sees it once it reads the table again.
        entry[ThreadTableLayout.EntryUniverseOffset] = ThreadTableLayout.NewUniverse;
        Assert.Equal(Universe.Old, threads.UniverseOf(threadPointer));
        threads.Refresh();
        Assert.Equal(Universe.New, threads.UniverseOf(threadPointer));
        Assert.Throws<GraftException>(() => threads.Add(threadPointer, Universe.Old, null));
    }

    [Fact]
    public void SelfSwitchingIsTheGoalPlusOneInTheHeaderWithTheRangesWrittenFirst()
    {
        var threads = ThreadTable.Create(image, TableAddress, Universe.Old);

        threads.AllowSelfSwitch(Universe.New, [(0x5000, 0x5100), (0x1000, 0x1100)], scan: true);

        Assert.Equal(2, table[ThreadTableLayout.SelfSwitchOffset]);
        Assert.Equal(1, table[ThreadTableLayout.ScanOffset]);
        Assert.Equal(2UL, BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(ThreadTableLayout.RangesOffset)));
        Assert.Equal(0x1000UL, BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(ThreadTableLayout.RangesOffset + ThreadTableLayout.RangesHeaderSize)));
        Assert.Throws<GraftException>(() => threads.AllowSelfSwitch(Universe.Old, [], scan: true));

        threads.ForbidSelfSwitch();
        Assert.Equal(0, table[ThreadTableLayout.SelfSwitchOffset]);
        threads.AllowSelfSwitch(Universe.Old, [], scan: false);
        Assert.Equal(1, table[ThreadTableLayout.SelfSwitchOffset]);
        Assert.Equal(0, table[ThreadTableLayout.ScanOffset]);
    }

    [Fact]
    public void AProposalHoldsUntilTheThreadCountsACallAndClearingTakesItBack()
    {
        const ulong threadPointer = 0x7f12_3456_7640; // home index 2447
        var threads = ThreadTable.Create(image, TableAddress, Universe.Old);
        threads.Add(threadPointer, Universe.Old, null);
        var entry = table.AsSpan((int)ThreadTableLayout.EntryOffset(2447), ThreadTableLayout.EntrySize);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[ThreadTableLayout.EntryCallsOffset..], 5);

        threads.Propose(threadPointer, Universe.New, threads.CallsOf(threadPointer));

        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(entry[ThreadTableLayout.EntryProposalCallsOffset..]));
        Assert.Equal(2, entry[ThreadTableLayout.EntryProposalOffset]);
        Assert.True(threads.ProposalHolds(threadPointer, Universe.New));
        Assert.False(threads.ProposalHolds(threadPointer, Universe.Old));
        Assert.Throws<GraftException>(() => threads.Propose(threadPointer, Universe.New, 5));

        // The thread's dispatcher counts a call: the proposal no longer holds, as Graft sees once it reads the table.
        BinaryPrimitives.WriteUInt32LittleEndian(entry[ThreadTableLayout.EntryCallsOffset..], 6);
        threads.Refresh();
        Assert.False(threads.ProposalHolds(threadPointer, Universe.New));
        Assert.True(threads.HasProposal(threadPointer));

        threads.ClearProposals();
        Assert.Equal(0, entry[ThreadTableLayout.EntryProposalOffset]);
        Assert.False(threads.HasProposal(threadPointer));
    }

    /// <summary>
    /// What a slot's dispatcher finds for a thread (ThreadTableLayout's remarks): from the home
    /// index on, wrapping, the universe of the entry holding its key, or the header's for the
    /// first empty entry.
    /// </summary>
    private byte DispatcherLookup(ulong threadPointer)
    {
        for (var index = ThreadTableLayout.HomeIndex(threadPointer); ; index = (index + 1) % ThreadTableLayout.Capacity)
        {
            var key = KeyAt(index);
            if (key == threadPointer)
            {
                return Entry(index)[ThreadTableLayout.EntryUniverseOffset];
            }

            if (key == 0)
            {
                return table[ThreadTableLayout.DefaultUniverseOffset];
            }
        }
    }

    /// <summary>
    /// A key whose home index is <paramref name="home"/>, the <paramref name="nth"/> such (from 1):
    /// the home index is the top 12 bits of key * HashMultiplier, and the multiplier is odd, so
    /// (home &lt;&lt; 52 | nth) times its inverse modulo 2^64 is such a key.
    /// </summary>
    private static ulong WithHome(int home, ulong nth) =>
        (((ulong)home << ThreadTableLayout.HashShift) | nth) * Inverse(ThreadTableLayout.HashMultiplier);

    /// <summary>The inverse of an odd number modulo 2^64, by Newton's iteration (each step doubles the bits that are right).</summary>
    private static ulong Inverse(ulong odd)
    {
        var inverse = odd;
        for (var step = 0; step < 6; step++)
        {
            inverse *= 2 - (odd * inverse);
        }

        return inverse;
    }

    private Span<byte> Entry(int index) => table.AsSpan((int)ThreadTableLayout.EntryOffset(index), ThreadTableLayout.EntrySize);

    private ulong KeyAt(int index) => BinaryPrimitives.ReadUInt64LittleEndian(Entry(index)[ThreadTableLayout.EntryKeyOffset..]);

    private void PutEntry(int index, ulong key, byte universe)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(Entry(index)[ThreadTableLayout.EntryKeyOffset..], key);
        Entry(index)[ThreadTableLayout.EntryUniverseOffset] = universe;
    }
}
