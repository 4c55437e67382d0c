using System.Buffers.Binary;

namespace Graft.Elf;

/// <summary>
/// Beyond what any object must be to load (<see cref="LoadableCheck"/>, run first): the dynamic
/// entries a patch built by `graft build` (cc -shared -fPIC, -z now) may carry, and
/// what their flags and counts may say. glibc files an unknown tag by arithmetic on its value
/// into its own tables, trusts DT_RELACOUNT to skip symbol lookups, and obeys flags such as
/// DF_1_NODELETE (never unloadable) or DF_1_NOOPEN: anything else is refused.
/// </summary>
public static class PatchDynamicRules
{
    private const long RelaCount = 0x6ffffff9;
    private const uint Relative = 8;

    private static readonly HashSet<long> Known =
    [
        ElfDynamicTag.Null, ElfDynamicTag.Needed, ElfDynamicTag.PltRelSize, ElfDynamicTag.PltGot, ElfDynamicTag.Hash,
        ElfDynamicTag.StrTab, ElfDynamicTag.SymTab, ElfDynamicTag.Rela, ElfDynamicTag.RelaSize, 9 /* RELAENT */,
        ElfDynamicTag.StrSize, 11 /* SYMENT */, ElfDynamicTag.Init, ElfDynamicTag.Fini, ElfDynamicTag.Soname, 15 /* RPATH */,
        20 /* PLTREL */, ElfDynamicTag.Debug, ElfDynamicTag.JmpRel, ElfDynamicTag.BindNow, 25 /* INIT_ARRAY */, 26 /* FINI_ARRAY */,
        27 /* INIT_ARRAYSZ */, 28 /* FINI_ARRAYSZ */, 29 /* RUNPATH */, ElfDynamicTag.Flags, ElfDynamicTag.GnuHash,
        0x6ffffff0 /* VERSYM */, RelaCount, ElfDynamicTag.Flags1, 0x6ffffffc /* VERDEF */, 0x6ffffffd /* VERDEFNUM */,
        0x6ffffffe /* VERNEED */, 0x6fffffff /* VERNEEDNUM */,
    ];

    // DF_ORIGIN, DF_BIND_NOW; DF_1_NOW, DF_1_ORIGIN.
    private const ulong AllowedFlags = 0x1 | 0x8;
    private const ulong AllowedFlags1 = 0x1 | 0x80;

    private const int RelaSize = 24;

    /// <summary>Refuses with <see cref="ElfFormatException"/>; DT_RELA's bounds were checked by <see cref="LoadableCheck"/>.</summary>
    public static void Check(ElfFile elf)
    {
        var entries = elf.DynamicEntries;
        if (entries.FirstOrDefault(e => !Known.Contains(e.Tag)) is { } unknown)
        {
            throw new ElfFormatException($"the dynamic section has an entry with tag 0x{unknown.Tag:x}, which no patch built by graft has");
        }

        var flags = entries.Where(e => e.Tag == ElfDynamicTag.Flags).Aggregate(0UL, (all, e) => all | e.Value);
        var flags1 = entries.Where(e => e.Tag == ElfDynamicTag.Flags1).Aggregate(0UL, (all, e) => all | e.Value);
        if ((flags & ~AllowedFlags) != 0 || (flags1 & ~AllowedFlags1) != 0)
        {
            throw new ElfFormatException($"the dynamic section asks the loader for DT_FLAGS 0x{flags:x} / DT_FLAGS_1 0x{flags1:x}; a patch may only ask for BIND_NOW and ORIGIN");
        }

        // glibc applies the first DT_RELACOUNT relocations as R_X86_64_RELATIVE without looking.
        if (entries.LastOrDefault(e => e.Tag == RelaCount) is { } count && !StartsWithRelative(elf, entries, count.Value))
        {
            throw new ElfFormatException($"DT_RELACOUNT ({count.Value}) counts more than the R_X86_64_RELATIVE relocations DT_RELA starts with");
        }
    }

    private static bool StartsWithRelative(ElfFile elf, IReadOnlyList<ElfDynamicEntry> entries, ulong count)
    {
        var table = entries.LastOrDefault(e => e.Tag == ElfDynamicTag.Rela)?.Value;
        var size = entries.LastOrDefault(e => e.Tag == ElfDynamicTag.RelaSize)?.Value ?? 0;
        if (table is null || count > size / RelaSize)
        {
            return count == 0;
        }

        Span<byte> info = stackalloc byte[8];
        for (ulong i = 0; i < count; i++)
        {
            if (!elf.TryReadAtAddress(table.Value + (i * RelaSize) + 8, info) || (uint)BinaryPrimitives.ReadUInt64LittleEndian(info) != Relative)
            {
                return false;
            }
        }

        return true;
    }
}
