using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.X86;

namespace Graft.Patching.Redirect;

/// <summary>
/// Hands out slots (SlotLayout.Size bytes each) in pages mapped within rel32 reach of the code that jumps to them,
/// mapping new pages (by a syscall run in the target, on a stopped thread) when no existing one is in reach: as
/// many at once as the slots still wanted need, up to <see cref="MostPagesAtOnce"/>, so that a patch of 1,000
/// functions maps a few runs of pages rather than 200 pages one syscall each.
/// </summary>
internal sealed class SlotAllocator(TargetProcess target, TargetState state)
{
    private const ulong PageSize = 4096;
    private const ulong LowestAddress = 0x10000;
    private const ulong PagesPerGap = 256;
    private const ulong MostPagesAtOnce = 64;

    // Sorted, so that whether a candidate overlaps a taken slot is a look at its neighbours, not
    // at every slot taken: a patch of 1,000 functions takes 1,000 slots.
    private readonly SortedSet<ulong> taken = [.. state.UsedSlots];

    // Pages found without a free slot: slots are only taken while this allocator lives.
    private readonly HashSet<ulong> fullPages = [];

    /// <summary>Pages this allocator mapped; they are unmapped again if the operation fails.</summary>
    public List<SlotPage> NewPages { get; } = [];

    public IEnumerable<SlotPage> AllPages => state.SlotPages.Concat(NewPages);

    /// <summary>A slot in reach of <paramref name="patchAddress"/>; <paramref name="wanted"/>: the slots this operation still needs, this one included.</summary>
    public ulong Allocate(LoadedModule module, ulong patchAddress, int tid, int wanted)
    {
        foreach (var page in AllPages.Where(p => !fullPages.Contains(p.Address) && InReach(p.Address, patchAddress)))
        {
            if (FreeSlot(page) is { } free)
            {
                return Take(free);
            }
        }

        var pages = Math.Clamp((((ulong)wanted * SlotLayout.Size) + PageSize - 1) / PageSize, 1, MostPagesAtOnce);
        var mapped = MapPagesNear(module, patchAddress, tid, pages);
        NewPages.Add(mapped);
        return Take(FreeSlot(mapped)!.Value);
    }

    /// <summary>Unmaps the pages this allocator mapped (rollback).</summary>
    public void UnmapNewPages(int tid)
    {
        SlotPages.Unmap(target, tid, NewPages);
        NewPages.Clear();
    }

    private ulong Take(ulong slot)
    {
        taken.Add(slot);
        return slot;
    }

    // A slot taken by an older graft may lie off this one's stride (slots were 256 bytes before the preserving stub):
    // a candidate is free only if no taken slot starts less than a slot's size before or after it.
    private ulong? FreeSlot(SlotPage page)
    {
        for (var slot = page.Address; slot + SlotLayout.Size <= page.Address + page.Size; slot += SlotLayout.Size)
        {
            if (taken.GetViewBetween(slot - SlotLayout.Size + 1, slot + SlotLayout.Size - 1).Count == 0)
            {
                return slot;
            }
        }

        fullPages.Add(page.Address);
        return null;
    }

    // Both the entry jump (patch site → slot) and the slot's jump back must fit in rel32; keep a
    // margin for the slot's size.
    private static bool InReach(ulong page, ulong patchAddress, ulong size = PageSize) =>
        JumpCode.IsWithinRel32(patchAddress, page) && JumpCode.IsWithinRel32(page + size, patchAddress);

    private SlotPage MapPagesNear(LoadedModule module, ulong patchAddress, int tid, ulong pages)
    {
        var size = pages * PageSize;
        foreach (var candidate in CandidateAddresses(module, pages).Where(a => InReach(a, patchAddress, size)).Take(64))
        {
            var result = target.Syscalls.TryMmap(tid, candidate, size, Syscalls.PROT_READ | Syscalls.PROT_EXEC,
                Syscalls.MAP_PRIVATE | Syscalls.MAP_ANONYMOUS | Syscalls.MAP_FIXED_NOREPLACE, ulong.MaxValue, 0);
            if (result == -Syscalls.EEXIST)
            {
                continue;
            }

            if (Syscalls.Failed(result))
            {
                throw new GraftException(GraftFailure.Internal, $"mmap of a slot page inside process {target.Pid} failed with errno {-result}");
            }

            // Unused slot bytes trap rather than run into something.
            target.Memory.Write((ulong)result, Enumerable.Repeat((byte)0xcc, (int)size).ToArray());
            return new SlotPage((ulong)result, size, module.Path);
        }

        if (pages > 1)
        {
            // No gap in reach holds that many: one page at a time, as far as they go.
            return MapPagesNear(module, patchAddress, tid, 1);
        }

        throw new GraftException(GraftFailure.Refused, $"no free address within ±2 GB of {module.FileName} for graft's slot page");
    }

    /// <summary>Free runs of <paramref name="pages"/> pages next to the object first, then further out, from the current memory map.</summary>
    private IEnumerable<ulong> CandidateAddresses(LoadedModule module, ulong pages)
    {
        var mappings = target.Modules.Mappings.OrderBy(m => m.Start).ToList();
        var gaps = new List<(ulong Start, ulong End)>();
        var previousEnd = LowestAddress;
        foreach (var mapping in mappings)
        {
            if (mapping.Start > previousEnd)
            {
                gaps.Add((previousEnd, mapping.Start));
            }

            previousEnd = Math.Max(previousEnd, mapping.End);
        }

        // Several runs per gap, nearest the object first: a patch of many functions needs more
        // pages than there are gaps in reach. The map was read before this operation mapped any,
        // so the runs that would overlap pages already mapped are left out here rather than found
        // taken (EEXIST).
        var size = pages * PageSize;
        var mapped = AllPages.ToList();
        return gaps
            .SelectMany(g => RunsNearModule(g.Start, g.End, size, module))
            .Where(a => !mapped.Any(p => a < p.Address + p.Size && p.Address < a + size))
            .OrderBy(a => a < module.Start ? module.Start - a : a - module.End);
    }

    private static IEnumerable<ulong> RunsNearModule(ulong start, ulong end, ulong size, LoadedModule module)
    {
        var runs = Math.Min((end - start) / size, Math.Max(PagesPerGap * PageSize / size, 1));
        for (ulong k = 0; k < runs; k++)
        {
            yield return end <= module.Start ? end - ((k + 1) * size) : start + (k * size);
        }
    }
}
