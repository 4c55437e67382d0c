using Graft.Elf.Parsing;

namespace Graft.Elf.Dwarf.Info;

/// <summary>One CU's .debug_abbrev entries: per code, the tag, whether children follow, and each attribute's form.</summary>
internal sealed class AbbreviationTable
{
    private const ulong ImplicitConst = 0x21;

    private readonly Dictionary<ulong, Abbreviation> entries = [];

    public static AbbreviationTable Read(ReadOnlySpan<byte> section, ulong offset)
    {
        var table = new AbbreviationTable();
        var reader = new ByteReader(section, ".debug_abbrev", checked((int)offset));
        while (true)
        {
            ulong code = reader.Uleb128();
            if (code == 0)
            {
                return table;
            }

            ulong tag = reader.Uleb128();
            bool hasChildren = reader.U8() != 0;
            var attributes = new List<(ulong Name, ulong Form)>();
            while (true)
            {
                ulong name = reader.Uleb128();
                ulong form = reader.Uleb128();
                if (name == 0 && form == 0)
                {
                    break;
                }

                if (form == ImplicitConst)
                {
                    reader.Sleb128();
                }

                attributes.Add((name, form));
            }

            table.entries[code] = new Abbreviation(tag, hasChildren, attributes);
        }
    }

    public Abbreviation this[ulong code] => entries.TryGetValue(code, out var abbreviation)
        ? abbreviation
        : throw new ElfFormatException($".debug_info uses abbreviation {code}, which its table does not have");
}

internal sealed record Abbreviation(ulong Tag, bool HasChildren, IReadOnlyList<(ulong Name, ulong Form)> Attributes);
