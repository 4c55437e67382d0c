using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.X86;

namespace Graft.Patching.Redirect;

/// <summary>
/// Hands out slots (SlotLayout.Size bytes each) in pages mapped within rel32 reach of the code that jumps to them,
/// mapping a new page (by a syscall run in the target) when no existing one is in reach.
/// </summary>
internal sealed class SlotAllocator(TargetProcess target, TargetState state)
{
    private const ulong PageSize = 4096;
    private const ulong LowestAddress = 0x10000;
    private const ulong PagesPerGap = 256;

    private readonly HashSet<ulong> taken = [.. state.UsedSlots];

    /// <summary>Pages this allocator mapped; they are unmapped again if the operation fails.</summary>
    public List<SlotPage> NewPages { get; } = [];

    public IEnumerable<SlotPage> AllPages => state.SlotPages.Concat(NewPages);

    public ulong Allocate(LoadedModule module, ulong patchAddress, int tid)
    {
        foreach (var page in AllPages.Where(p => InReach(p.Address, patchAddress)))
        {
            if (FreeSlot(page) is { } free)
            {
                return Take(free);
            }
        }

        var mapped = MapPageNear(module, patchAddress, tid);
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
            if (!taken.Any(t => t < slot + SlotLayout.Size && slot < t + SlotLayout.Size))
            {
                return slot;
            }
        }

        return null;
    }

    // Both the entry jump (patch site → slot) and the slot's jump back must fit in rel32; keep a
    // margin for the slot's size.
    private static bool InReach(ulong page, ulong patchAddress) =>
        JumpCode.IsWithinRel32(patchAddress, page) && JumpCode.IsWithinRel32(page + PageSize, patchAddress);

    private SlotPage MapPageNear(LoadedModule module, ulong patchAddress, int tid)
    {
        foreach (var candidate in CandidateAddresses(module).Where(a => InReach(a, patchAddress)).Take(64))
        {
            var result = target.Syscalls.TryMmap(tid, candidate, PageSize, Syscalls.PROT_READ | Syscalls.PROT_EXEC,
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
            target.Memory.Write((ulong)result, Enumerable.Repeat((byte)0xcc, (int)PageSize).ToArray());
            return new SlotPage((ulong)result, PageSize, module.Path);
        }

        throw new GraftException(GraftFailure.Refused, $"no free address within ±2 GB of {module.FileName} for graft's slot page");
    }

    /// <summary>Free page addresses next to the object first, then further out, from the current memory map.</summary>
    private IEnumerable<ulong> CandidateAddresses(LoadedModule module)
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

        // Several pages per gap, nearest the object first: a patch of many functions needs more
        // pages than there are gaps in reach. The map was read before this operation mapped any,
        // so the pages already mapped are left out here rather than found taken (EEXIST).
        var mapped = AllPages.Select(p => p.Address).ToHashSet();
        return gaps
            .SelectMany(g => PagesNearModule(g.Start, g.End, module))
            .Where(a => !mapped.Contains(a))
            .OrderBy(a => a < module.Start ? module.Start - a : a - module.End);
    }

    private static IEnumerable<ulong> PagesNearModule(ulong start, ulong end, LoadedModule module)
    {
        var pages = Math.Min((end - start) / PageSize, PagesPerGap);
        for (ulong k = 0; k < pages; k++)
        {
            yield return end <= module.Start ? end - ((k + 1) * PageSize) : start + (k * PageSize);
        }
    }
}
