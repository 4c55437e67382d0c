namespace Graft.X86;

/// <summary>
/// The per-thread state table in the target's memory, which the dispatcher reads and Graft writes from outside:
/// a 64-byte header, then an open-addressing hash table keyed by each thread's thread pointer.
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

    /// <summary>The header's bytes other than <see cref="DefaultUniverseOffset"/> are reserved and zero.</summary>
    public const int HeaderSize = 64;

    public const int Capacity = 1 << IndexBits;

    public const int EntrySize = 16;

    /// <summary>
    /// The 8-byte key: the thread's thread pointer (its fs_base, which glibc also stores at <c>%fs:0</c>); 0 marks an empty entry.
    /// </summary>
    public const int EntryKeyOffset = 0;

    /// <summary>The thread's universe byte; bytes 9..15 of an entry are reserved and zero.</summary>
    public const int EntryUniverseOffset = 8;

    public const int Size = HeaderSize + (Capacity * EntrySize);

    public const byte OldUniverse = 0;

    public const byte NewUniverse = 1;

    /// <summary>Fibonacci hashing: 2^64 divided by the golden ratio, so that keys differing only in high bits spread out.</summary>
    public const ulong HashMultiplier = 0x9E3779B97F4A7C15UL;

    /// <summary>The home index is the top bits of the product; the dispatcher shifts by this much.</summary>
    public const int HashShift = 64 - IndexBits;

    private const int IndexBits = 12;

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
