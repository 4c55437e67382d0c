namespace Graft.Elf.Parsing;

/// <summary>Walks the linked lists of Elf64_Verdef/Verdaux and Elf64_Verneed/Vernaux; every walk is
/// bounded by the section size so a cyclic 'next' cannot loop forever.</summary>
internal static class VersionDefinitionReader
{
    private const int MinimumEntrySize = 16;

    public static void ReadDefinitions(SectionSource sections, ElfSection verdef, Dictionary<ushort, string> names)
    {
        StringTable strings = sections.LinkedStringTable(verdef);
        ReadOnlySpan<byte> data = sections.Data(verdef).Span;
        int offset = 0;
        for (int steps = 0; steps <= data.Length / MinimumEntrySize; steps++)
        {
            var reader = new ByteReader(data, verdef.Name, offset);
            reader.U16();
            reader.U16();
            ushort index = reader.U16();
            reader.U16();
            reader.U32();
            uint aux = reader.U32();
            uint next = reader.U32();
            var auxReader = new ByteReader(data, verdef.Name, Advance(offset, aux, data.Length, verdef.Name));
            names[index] = strings.Get(auxReader.U32());
            if (next == 0)
            {
                return;
            }

            offset = Advance(offset, next, data.Length, verdef.Name);
        }

        throw new ElfFormatException($"{verdef.Name}: version definition chain does not end");
    }

    public static void ReadRequirements(SectionSource sections, ElfSection verneed, Dictionary<ushort, string> names)
    {
        StringTable strings = sections.LinkedStringTable(verneed);
        ReadOnlySpan<byte> data = sections.Data(verneed).Span;
        int offset = 0;
        int budget = data.Length / MinimumEntrySize;
        while (budget-- >= 0)
        {
            var reader = new ByteReader(data, verneed.Name, offset);
            reader.U16();
            ushort auxCount = reader.U16();
            reader.U32();
            uint aux = reader.U32();
            uint next = reader.U32();
            int auxOffset = Advance(offset, aux, data.Length, verneed.Name);
            for (int i = 0; i < auxCount && budget-- >= 0; i++)
            {
                var auxReader = new ByteReader(data, verneed.Name, auxOffset);
                auxReader.U32();
                auxReader.U16();
                ushort index = auxReader.U16();
                names[index] = strings.Get(auxReader.U32());
                uint auxNext = auxReader.U32();
                if (auxNext == 0)
                {
                    break;
                }

                auxOffset = Advance(auxOffset, auxNext, data.Length, verneed.Name);
            }

            if (next == 0)
            {
                return;
            }

            offset = Advance(offset, next, data.Length, verneed.Name);
        }

        throw new ElfFormatException($"{verneed.Name}: version requirement chain does not end");
    }

    private static int Advance(int offset, uint delta, int length, string what)
    {
        return delta <= (uint)(length - offset)
            ? offset + (int)delta
            : throw new ElfFormatException($"{what}: entry at offset 0x{offset:x} points 0x{delta:x} bytes past the end");
    }
}
