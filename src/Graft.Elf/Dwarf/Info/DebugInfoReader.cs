using System.Text;
using Graft.Elf.Parsing;

namespace Graft.Elf.Dwarf.Info;

/// <summary>
/// Walks every DIE of .debug_info (DWARF 2 to 5, 32- and 64-bit), keeping only what <see cref="DebugInfoEntry"/> holds.
/// Forms it does not need are skipped by their size; a name in a form it cannot resolve (a string index of split
/// DWARF) is left null.
/// </summary>
internal static class DebugInfoReader
{
    private const ulong AttributeName = 0x03;
    private const ulong AttributeAbstractOrigin = 0x31;
    private const ulong AttributeSpecification = 0x47;
    private const ulong TagSubprogram = 0x2e;

    public static List<DebugInfoEntry> Read(ElfFile elf)
    {
        var info = Section(elf, ".debug_info");
        var abbrev = Section(elf, ".debug_abbrev");
        var context = new Strings(Section(elf, ".debug_str"), Section(elf, ".debug_line_str"));
        var entries = new List<DebugInfoEntry>();
        var reader = new ByteReader(info.Span, ".debug_info");
        while (!reader.AtEnd)
        {
            ReadUnit(ref reader, abbrev.Span, context, entries);
        }

        return entries;
    }

    private static void ReadUnit(ref ByteReader reader, ReadOnlySpan<byte> abbrev, Strings strings, List<DebugInfoEntry> entries)
    {
        ulong unitStart = (ulong)reader.Position;
        ulong length = reader.U32();
        int offsetSize = 4;
        if (length == 0xFFFF_FFFF)
        {
            length = reader.U64();
            offsetSize = 8;
        }

        int end = checked(reader.Position + (int)length);
        ushort version = reader.U16();
        ulong abbrevOffset;
        int addressSize;
        if (version >= 5)
        {
            byte unitType = reader.U8();
            addressSize = reader.U8();
            abbrevOffset = Offset(ref reader, offsetSize);
            // Skeleton and split units carry an id, type units a signature and an offset.
            reader.Position += unitType switch { 0x04 or 0x05 => 8, 0x02 or 0x06 => 8 + offsetSize, _ => 0 };
        }
        else
        {
            abbrevOffset = Offset(ref reader, offsetSize);
            addressSize = reader.U8();
        }

        var table = AbbreviationTable.Read(abbrev, abbrevOffset);
        var form = new FormReader(offsetSize, addressSize, strings);
        var parents = new Stack<(bool IsSubprogram, ulong Offset)>();
        while (reader.Position < end)
        {
            ulong offset = (ulong)reader.Position;
            ulong code = reader.Uleb128();
            if (code == 0)
            {
                if (parents.Count > 0)
                {
                    parents.Pop();
                }

                continue;
            }

            var abbreviation = table[code];
            string? name = null;
            ulong origin = 0;
            foreach (var (attribute, attributeForm) in abbreviation.Attributes)
            {
                switch (attribute)
                {
                    case AttributeName:
                        name = form.String(ref reader, attributeForm);
                        break;
                    case AttributeAbstractOrigin or AttributeSpecification:
                        origin = form.Reference(ref reader, attributeForm, unitStart);
                        break;
                    default:
                        form.Skip(ref reader, attributeForm);
                        break;
                }
            }

            ulong enclosing = parents.FirstOrDefault(p => p.IsSubprogram).Offset;
            entries.Add(new DebugInfoEntry(offset, abbreviation.Tag, name, origin, enclosing));
            if (abbreviation.HasChildren)
            {
                parents.Push((abbreviation.Tag == TagSubprogram, offset));
            }
        }

        reader.Position = end;
    }

    private static ulong Offset(ref ByteReader reader, int size) => size == 8 ? reader.U64() : reader.U32();

    private static ReadOnlyMemory<byte> Section(ElfFile elf, string name) =>
        elf.FindSection(name) is { } section ? elf.GetSectionData(section) : ReadOnlyMemory<byte>.Empty;

    /// <summary>.debug_str and .debug_line_str, which DW_FORM_strp and DW_FORM_line_strp point into.</summary>
    internal sealed record Strings(ReadOnlyMemory<byte> Str, ReadOnlyMemory<byte> LineStr)
    {
        public static string At(ReadOnlyMemory<byte> section, ulong offset, string what)
        {
            var reader = new ByteReader(section.Span, what, checked((int)offset));
            return Encoding.UTF8.GetString(reader.NulTerminated());
        }
    }
}
