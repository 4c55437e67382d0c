namespace Graft.Linux.Inspection;

/// <summary>A heap of one of glibc's malloc arenas: where it starts, and how much of it is read-write (in use).</summary>
public sealed record MallocHeap(ulong Start, ulong InUse);

/// <summary>
/// The heaps of glibc's secondary malloc arenas, recognised in /proc/&lt;pid&gt;/maps by their shape. A thread that
/// first allocates or frees (malloc's tcache_init, arena_get2) gets an arena of its own while there are fewer than
/// eight per core; its heap (malloc/arena.c, new_heap) is HEAP_MAX_SIZE of anonymous address space at an address
/// aligned to that size, read-write from its start for the part in use and PROT_NONE for the rest. glibc never unmaps
/// the first heap of an arena, so an arena that appears in a process stays for its lifetime.
/// </summary>
public static class MallocHeaps
{
    /// <summary>HEAP_MAX_SIZE on x86-64: 2 * DEFAULT_MMAP_THRESHOLD_MAX, 2 * 4 * 1024 * 1024 * sizeof(long).</summary>
    public const ulong HeapSize = 64UL << 20;

    /// <summary>Every region of the map that has the shape of an arena heap.</summary>
    public static IReadOnlyList<MallocHeap> In(IReadOnlyList<MemoryMapping> maps)
    {
        ArgumentNullException.ThrowIfNull(maps);
        var heaps = new List<MallocHeap>();
        for (var i = 0; i < maps.Count; i++)
        {
            var first = maps[i];
            if (first.Start % HeapSize != 0 || !IsAnonymous(first) || first.Permissions != "rw-p")
            {
                continue;
            }

            // The read-write part, then at most one PROT_NONE rest, together exactly one heap.
            var end = first.End;
            if (end < first.Start + HeapSize && i + 1 < maps.Count && maps[i + 1] is { } rest
                && rest.Start == end && IsAnonymous(rest) && rest.Permissions == "---p")
            {
                end = rest.End;
            }

            if (end == first.Start + HeapSize)
            {
                heaps.Add(new MallocHeap(first.Start, first.End - first.Start));
            }
        }

        return heaps;
    }

    /// <summary>The heaps in <paramref name="after"/> that <paramref name="before"/> did not have.</summary>
    public static IReadOnlyList<MallocHeap> Added(IReadOnlyList<MallocHeap> before, IReadOnlyList<MallocHeap> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var known = before.Select(h => h.Start).ToHashSet();
        return [.. after.Where(h => !known.Contains(h.Start))];
    }

    private static bool IsAnonymous(MemoryMapping mapping) => mapping.Inode == 0 && mapping.Path.Length == 0;
}
