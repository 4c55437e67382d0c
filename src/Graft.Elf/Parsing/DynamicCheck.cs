using System.Buffers.Binary;
using System.Text;

namespace Graft.Elf.Parsing;

/// <summary>The dynamic section's tables as glibc's dlopen walks them (see <see cref="LoadableCheck"/>).</summary>
internal static class DynamicCheck
{
    private const long Rel = 17;
    private const long TextRel = 22;
    private const long PltRel = 20;
    private const long RelaEnt = 9;
    private const long SymEnt = 11;
    private const long InitArray = 25;
    private const long FiniArray = 26;
    private const long InitArraySize = 27;
    private const long FiniArraySize = 28;
    private const long Rpath = 15;
    private const long Runpath = 29;
    private const ulong TextRelFlag = 4;
    private const int EntrySize = 24;

    // Relocations of position-independent code, all of which write one 8-byte slot.
    private static readonly HashSet<uint> LoadedRelocations = [0, 1, 6, 7, 8, 16, 17, 18, IRelative];

    // The loader calls the resolver at its addend.
    private const uint IRelative = 37;

    public static void Run(ElfFile elf, LoadedImage image)
    {
        RequireTerminator(elf);
        var entries = elf.DynamicEntries;
        ulong? Value(long tag) => entries.LastOrDefault(e => e.Tag == tag)?.Value;
        ulong Required(long tag, string name) => Value(tag) ?? throw new ElfFormatException($"the dynamic section has no {name}");

        if (Value(Rel) is not null || Value(TextRel) is not null || ((Value(ElfDynamicTag.Flags) ?? 0) & TextRelFlag) != 0)
        {
            throw new ElfFormatException("the dynamic section asks for REL or text relocations, which a patch built with -fPIC never has");
        }

        if (Value(RelaEnt) is { } relaEnt && relaEnt != EntrySize || Value(SymEnt) is { } symEnt && symEnt != EntrySize
            || Value(PltRel) is { } pltRel && pltRel != (ulong)ElfDynamicTag.Rela)
        {
            throw new ElfFormatException("the dynamic section gives entry sizes or a PLT relocation kind unlike x86-64's");
        }

        var strings = new DynamicStrings(image.RequireFile(Required(ElfDynamicTag.StrTab, "DT_STRTAB"), Required(ElfDynamicTag.StrSize, "DT_STRSZ"), "DT_STRTAB").ToArray());
        foreach (var entry in entries.Where(e => e.Tag is ElfDynamicTag.Needed or ElfDynamicTag.Soname or Rpath or Runpath))
        {
            strings.Name(entry.Value, $"the string of dynamic entry {entry.Tag}");
        }

        var symbolTable = Required(ElfDynamicTag.SymTab, "DT_SYMTAB");
        var count = HashCheck.SymbolCount(image, Value(ElfDynamicTag.GnuHash), Value(ElfDynamicTag.Hash));
        var symbols = image.RequireFile(symbolTable, count * EntrySize, "the dynamic symbol table (DT_SYMTAB)");
        for (var i = 0; i < (int)count; i++)
        {
            strings.Name(BinaryPrimitives.ReadUInt32LittleEndian(symbols[(i * EntrySize)..]), $"the name of dynamic symbol {i}");
        }

        var relocations = Relocations(image, Value(ElfDynamicTag.Rela), Value(ElfDynamicTag.RelaSize), "DT_RELA")
            .Concat(Relocations(image, Value(ElfDynamicTag.JmpRel), Value(ElfDynamicTag.PltRelSize), "DT_JMPREL")).ToList();
        foreach (var (offset, type, symbol, _) in relocations)
        {
            if (!LoadedRelocations.Contains(type) || symbol >= count || !image.Holds(offset, 8, ElfSegmentFlags.Write))
            {
                throw new ElfFormatException($"a relocation at 0x{offset:x} (type {type}, symbol {symbol}) is not one the loader can apply inside the patch's writable data");
            }
        }

        if (Value(ElfDynamicTag.PltGot) is { } got && Value(ElfDynamicTag.JmpRel) is not null && !image.Holds(got, 24, ElfSegmentFlags.Write))
        {
            throw new ElfFormatException($"DT_PLTGOT 0x{got:x} is not in the patch's writable data");
        }

        RequireCode(image, [Value(ElfDynamicTag.Init), Value(ElfDynamicTag.Fini), .. relocations.Where(r => r.Type == IRelative).Select(r => (ulong?)r.Addend)]);
        RequireCodeTable(image, relocations, Value(InitArray), Value(InitArraySize), "DT_INIT_ARRAY");
        RequireCodeTable(image, relocations, Value(FiniArray), Value(FiniArraySize), "DT_FINI_ARRAY");
        VersionCheck.Run(image, entries, strings, count);
    }

    private static void RequireTerminator(ElfFile elf)
    {
        var dynamic = elf.Segments.First(s => s.Type == ElfSegmentType.Dynamic);
        var area = elf.Image.Span.Slice((int)dynamic.Offset, (int)dynamic.FileSize);
        for (var at = 0; at + 16 <= area.Length; at += 16)
        {
            if (BinaryPrimitives.ReadInt64LittleEndian(area[at..]) == ElfDynamicTag.Null)
            {
                return;
            }
        }

        throw new ElfFormatException("the dynamic section has no DT_NULL entry to end it");
    }

    private static IEnumerable<(ulong Offset, uint Type, ulong Symbol, ulong Addend)> Relocations(LoadedImage image, ulong? table, ulong? size, string name)
    {
        if (table is null && size is null)
        {
            return [];
        }

        if (table is null || size is null || size % EntrySize != 0)
        {
            throw new ElfFormatException($"{name} comes without a size that is a whole number of entries");
        }

        var bytes = image.RequireFile(table.Value, size.Value, name).ToArray();
        return Enumerable.Range(0, bytes.Length / EntrySize).Select(i =>
        {
            var info = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((i * EntrySize) + 8));
            return (BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(i * EntrySize)), (uint)info, info >> 32,
                BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((i * EntrySize) + 16)));
        });
    }

    private static void RequireCode(LoadedImage image, params ulong?[] functions)
    {
        foreach (var function in functions.OfType<ulong>())
        {
            if (!image.Holds(function, 1, ElfSegmentFlags.Execute))
            {
                throw new ElfFormatException($"an initializer or finalizer (0x{function:x}) the loader would call is not in an executable segment");
            }
        }
    }

    /// <summary>Each pointer of an init or fini array, as relocated, must be code: the loader calls them all.</summary>
    private static void RequireCodeTable(LoadedImage image, List<(ulong Offset, uint Type, ulong Symbol, ulong Addend)> relocations, ulong? table, ulong? size, string name)
    {
        if (table is null && size is null)
        {
            return;
        }

        if (table is null || size is null || size % 8 != 0)
        {
            throw new ElfFormatException($"{name} comes without a size that is a whole number of pointers");
        }

        var slots = image.RequireFile(table.Value, size.Value, name).ToArray();
        for (var i = 0; i < slots.Length / 8; i++)
        {
            var slot = table.Value + ((ulong)i * 8);
            var relocated = relocations.Where(r => r.Offset == slot).Select(r => (ulong?)r.Addend).LastOrDefault();
            if (relocations.Any(r => r.Offset == slot && r.Type != 8))
            {
                throw new ElfFormatException($"{name} entry at 0x{slot:x} is bound to a symbol");
            }

            RequireCode(image, relocated ?? BinaryPrimitives.ReadUInt64LittleEndian(slots.AsSpan(i * 8)));
        }
    }
}

/// <summary>DT_STRTAB: names glibc reads up to their NUL, and prints in its errors.</summary>
internal sealed class DynamicStrings(byte[] table)
{
    public string Name(ulong offset, string what)
    {
        var end = offset < (ulong)table.Length ? Array.IndexOf(table, (byte)0, (int)offset) : -1;
        if (end < 0)
        {
            throw new ElfFormatException($"{what} (offset 0x{offset:x}) is not a terminated string in DT_STRTAB");
        }

        var name = Encoding.UTF8.GetString(table, (int)offset, end - (int)offset);
        return name.Any(char.IsControl) ? throw new ElfFormatException($"{what} holds control characters") : name;
    }
}
