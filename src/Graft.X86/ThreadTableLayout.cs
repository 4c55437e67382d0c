using System.Buffers.Binary;

namespace Graft.X86;

/// <summary>
/// The per-thread state table in the target's memory, which the dispatcher reads and Graft writes from outside:
/// a 64-byte header, an open-addressing hash table keyed by each thread's thread pointer, then the sorted code
/// ranges that keep a thread from switching itself (see <see cref="DispatcherCode"/>).
/// </summary>
/// <remarks>
/// Graft rebuilds the whole table before a transition starts and never deletes an entry during one, so a probe
/// that meets an empty entry knows the thread is absent. The table must always keep at least one empty entry:
/// the dispatcher's probe stops only on a match or an empty entry.
/// </remarks>
public static class ThreadTableLayout
{
    /// <summary>Header byte 0: the universe of every thread the table has no entry for.</summary>
    public const int DefaultUniverseOffset = 0;

    /// <summary>
    /// Header byte 1: 0 while threads may not switch themselves; else the goal universe plus one. A dispatcher whose
    /// thread has an entry and is not in the goal yet switches it when Graft proposed so and the thread has called no
    /// patched function since (<see cref="EntryProposalOffset"/>), or, if <see cref="ScanOffset"/> allows, when no
    /// word of its stack points into a blocked range.
    /// </summary>
    public const int SelfSwitchOffset = 1;

    /// <summary>Header byte 2: 1 when dispatchers may scan their stacks (which takes a sigaltstack call), else 0.</summary>
    public const int ScanOffset = 2;

    /// <summary>The header's other bytes are reserved and zero.</summary>
    public const int HeaderSize = 64;

    public const int Capacity = 1 << IndexBits;

    /// <summary>A cache line: each thread writes its own entry, and no other thread's shares its line.</summary>
    public const int EntrySize = 64;

    /// <summary>
    /// The 8-byte key: the thread's thread pointer (its fs_base, which glibc also stores at <c>%fs:0</c>); 0 marks an empty entry.
    /// </summary>
    public const int EntryKeyOffset = 0;

    /// <summary>The thread's universe byte; bytes 10 and 11 of an entry are reserved and zero.</summary>
    public const int EntryUniverseOffset = 8;

    /// <summary>
    /// Graft's proposal: 0 for none, else the goal plus one. Graft makes it for a thread asleep in a system call whose
    /// stack it found clean, with <see cref="EntryProposalCallsOffset"/> set to the thread's <see cref="EntryCallsOffset"/>
    /// as it was then. The thread's dispatcher takes it at its next call if the two still agree (it called no patched
    /// function since, so no frame it forbids can be on its stack), and otherwise clears it.
    /// </summary>
    public const int EntryProposalOffset = 9;

    /// <summary>
    /// 4 bytes the thread's own dispatcher keeps: bits 16..47 of the time stamp counter when it last looked at its
    /// stack (or'ed with 1), 0 before it ever did. Graft writes it 0 and never again.
    /// </summary>
    public const int EntryLastCheckOffset = 12;

    /// <summary>The lowest address of the thread's stack; 0 with <see cref="EntryStackHighOffset"/> when Graft does not know it.</summary>
    public const int EntryStackLowOffset = 16;

    /// <summary>Just above the thread's stack: where its outermost frame ends.</summary>
    public const int EntryStackHighOffset = 24;

    /// <summary>4 bytes: the calls of patched functions the thread made outside the goal universe, counted by its dispatcher.</summary>
    public const int EntryCallsOffset = 32;

    /// <summary>4 bytes: <see cref="EntryCallsOffset"/> as Graft read it when it checked the stack it proposes on. Bytes 40..63 are reserved.</summary>
    public const int EntryProposalCallsOffset = 36;

    public const int RangesOffset = HeaderSize + (Capacity * EntrySize);

    /// <summary>The ranges' header: their count, the lowest start and the highest end (8 bytes each, then 8 reserved).</summary>
    public const int RangesHeaderSize = 32;

    /// <summary>Each range is its start and its end (exclusive), sorted by start, none overlapping.</summary>
    public const int RangeSize = 16;

    public const int RangesCapacity = 2048;

    public const int Size = RangesOffset + RangesHeaderSize + (RangesCapacity * RangeSize);

    public const byte OldUniverse = 0;

    public const byte NewUniverse = 1;

    /// <summary>Fibonacci hashing: 2^64 divided by the golden ratio, so that keys differing only in high bits spread out.</summary>
    public const ulong HashMultiplier = 0x9E3779B97F4A7C15UL;

    /// <summary>The home index is the top bits of the product; the dispatcher shifts by this much.</summary>
    public const int HashShift = 64 - IndexBits;

    private const int IndexBits = 12;

    /// <summary>
    /// The bytes of the blocked ranges (from <see cref="RangesOffset"/>, <see cref="RangesHeaderSize"/> plus the ranges):
    /// sorted, overlapping and touching ones merged, and past <see cref="RangesCapacity"/>, neighbours merged pairwise
    /// until they fit. Merging only covers more, which keeps a thread back more often, never less: the scan stays a
    /// superset of the precise check.
    /// </summary>
    public static byte[] EncodeRanges(IEnumerable<(ulong Start, ulong End)> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        var merged = new List<(ulong Start, ulong End)>();
        foreach (var (start, end) in ranges.Where(r => r.End > r.Start).OrderBy(r => r.Start))
        {
            if (merged.Count > 0 && start <= merged[^1].End)
            {
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, end));
            }
            else
            {
                merged.Add((start, end));
            }
        }

        while (merged.Count > RangesCapacity)
        {
            merged = [.. merged.Chunk(2).Select(pair => (pair[0].Start, pair[^1].End))];
        }

        var bytes = new byte[RangesHeaderSize + (merged.Count * RangeSize)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)merged.Count);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), merged.Count == 0 ? 0 : merged[0].Start);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16), merged.Count == 0 ? 0 : merged[^1].End);
        for (var index = 0; index < merged.Count; index++)
        {
            var range = bytes.AsSpan(RangesHeaderSize + (index * RangeSize));
            BinaryPrimitives.WriteUInt64LittleEndian(range, merged[index].Start);
            BinaryPrimitives.WriteUInt64LittleEndian(range[8..], merged[index].End);
        }

        return bytes;
    }

    public static int HomeIndex(ulong threadPointer)
    {
        return (int)((threadPointer * HashMultiplier) >> HashShift);
    }

    /// <summary>The offset of entry <paramref name="index"/> from the start of the table.</summary>
    public static ulong EntryOffset(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Capacity);
        return HeaderSize + ((ulong)index * EntrySize);
    }

    /// <summary>
    /// The entries the dispatcher looks at for <paramref name="threadPointer"/>, in its order: the home index, then each next
    /// one, wrapping from the last entry to the first; every entry once. A writer puts a thread in the first entry that is
    /// empty or already holds its key.
    /// </summary>
    public static IEnumerable<int> ProbeSequence(ulong threadPointer)
    {
        if (threadPointer == 0)
        {
            throw new ArgumentException("0 marks an empty entry of the thread table; it cannot be a thread pointer", nameof(threadPointer));
        }

        int home = HomeIndex(threadPointer);
        return Enumerable.Range(0, Capacity).Select(step => (home + step) % Capacity);
    }
}
