using Graft.Linux.Inspection;

namespace Graft.Patching.Tests.Inspection;

/// <summary>The heaps of glibc's malloc arenas, found in /proc/&lt;pid&gt;/maps by their shape alone.</summary>
public sealed class MallocHeapsTests
{
    // Around the arena that a worker got from a rollback's dlclose in a CI run of StoppedTargetTests: an arena grown to
    // its whole heap, a region of 32 MiB with the same shape, and a file mapped at an aligned address.
    private const string Maps = """
        555d9ff00000-555da0001000 rw-p 00000000 00:00 0 
        555dce376000-555dce397000 rw-p 00000000 00:00 0                          [heap]
        7f2624000000-7f2624021000 rw-p 00000000 00:00 0 
        7f2624021000-7f2628000000 ---p 00000000 00:00 0 
        7f2649c8b000-7f2649c8c000 ---p 00000000 00:00 0 
        7f2649c8c000-7f264a48c000 rw-p 00000000 00:00 0 
        7f264a48c000-7f264a48d000 ---p 00000000 00:00 0 
        7f264c000000-7f2650000000 rw-p 00000000 00:00 0 
        7f2654000000-7f2654021000 rw-p 00000000 00:00 0 
        7f2654021000-7f2656000000 ---p 00000000 00:00 0 
        7f2658000000-7f265c000000 r--p 00000000 fe:00 1234                       /usr/lib/locale/locale-archive
        """;

    [Fact]
    public void AHeapIsItsUsedPartThenTheRestUpTo64MiBFromAnAlignedStart()
    {
        var heaps = MallocHeaps.In(ProcessMaps.ParseText(Maps));

        Assert.Equal(
            [
                new MallocHeap(0x7f2624000000, 0x21000),     // 132 KiB in use, the rest PROT_NONE
                new MallocHeap(0x7f264c000000, 64UL << 20),  // grown to the whole heap
            ],
            heaps);
    }

    [Fact]
    public void HeapsThatAppearedAreThoseNotThereBefore()
    {
        var after = MallocHeaps.In(ProcessMaps.ParseText(Maps));
        var before = after.Where(h => h.Start != 0x7f2624000000).ToList();

        Assert.Equal([new MallocHeap(0x7f2624000000, 0x21000)], MallocHeaps.Added(before, after));
    }
}
