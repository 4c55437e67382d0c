using Graft.Elf.Dwarf.Parsing;

namespace Graft.Elf.Dwarf;

/// <summary>The FDEs of an .eh_frame section, sorted by start address for lookup by pc.</summary>
public sealed class EhFrameTable
{
    private readonly FrameDescription[] _sorted;
    private readonly FrameDescription[] _searchable;

    private EhFrameTable(FrameDescription[] sorted)
    {
        _sorted = sorted;
        // Empty FDEs (left behind for discarded code) cover nothing and would hide real ones at the same address.
        _searchable = sorted.Where(f => f.AddressRange > 0).ToArray();
    }

    /// <summary>Every FDE, sorted by <see cref="FrameDescription.InitialLocation"/>.</summary>
    public IReadOnlyList<FrameDescription> Entries => _sorted;

    /// <param name="sectionData">The section's bytes; parsing stops at a zero terminator or the end.</param>
    /// <param name="sectionAddress">The section's virtual address (sh_addr), the base of pcrel pointers.</param>
    public static EhFrameTable Parse(ReadOnlyMemory<byte> sectionData, ulong sectionAddress)
    {
        return new EhFrameTable([.. EhFrameParser.Parse(sectionData, sectionAddress).OrderBy(f => f.InitialLocation)]);
    }

    /// <summary>The FDE whose range contains <paramref name="pc"/>, or null.</summary>
    public FrameDescription? Find(ulong pc)
    {
        int low = 0;
        int high = _searchable.Length - 1;
        while (low <= high)
        {
            int middle = low + ((high - low) / 2);
            FrameDescription candidate = _searchable[middle];
            if (pc < candidate.InitialLocation)
            {
                high = middle - 1;
            }
            else if (pc - candidate.InitialLocation >= candidate.AddressRange)
            {
                low = middle + 1;
            }
            else
            {
                return candidate;
            }
        }

        return null;
    }
}
