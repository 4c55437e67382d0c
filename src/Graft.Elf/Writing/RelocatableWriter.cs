using System.Buffers.Binary;
using System.Text;

namespace Graft.Elf.Writing;

/// <summary>Writes an <see cref="ObjectBuilder"/> as an x86-64 ELF relocatable object file.</summary>
public static class RelocatableWriter
{
    private const int HeaderSize = 64;
    private const int SectionHeaderSize = 64;
    private const int SymbolSize = 24;
    private const int RelocationSize = 24;
    private const ulong InfoLinkFlag = 0x40;

    public static byte[] Write(ObjectBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var symbols = builder.OrderedSymbols();
        var symbolIndex = symbols.Select((s, i) => (s, i + 1)).ToDictionary(p => p.s, p => p.Item2);
        var sectionIndex = builder.Sections.Select((s, i) => (s, i + 1)).ToDictionary(p => p.s, p => p.Item2);
        var names = new StringTableBuilder();
        var sectionNames = new StringTableBuilder();

        var headers = new List<SectionHeader>();
        foreach (var section in builder.Sections)
        {
            headers.Add(new SectionHeader(sectionNames.Add(section.Name), section.Type, section.Flags, [.. section.Data], section.Size, 0, 0, section.Alignment, section.EntrySize));
        }

        int symbolTable = builder.Sections.Count + builder.Sections.Count(s => s.Relocations.Count > 0) + 1;
        foreach (var section in builder.Sections.Where(s => s.Relocations.Count > 0))
        {
            var data = new byte[section.Relocations.Count * RelocationSize];
            for (int i = 0; i < section.Relocations.Count; i++)
            {
                var relocation = section.Relocations[i];
                var entry = data.AsSpan(i * RelocationSize);
                BinaryPrimitives.WriteUInt64LittleEndian(entry, relocation.Offset);
                BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], ((ulong)symbolIndex[relocation.Symbol] << 32) | relocation.Type);
                BinaryPrimitives.WriteInt64LittleEndian(entry[16..], relocation.Addend);
            }

            headers.Add(new SectionHeader(sectionNames.Add(".rela" + section.Name), ElfSectionType.Rela, InfoLinkFlag, data, (ulong)data.Length,
                (uint)symbolTable, (uint)sectionIndex[section], 8, RelocationSize));
        }

        var table = new byte[(symbols.Count + 1) * SymbolSize];
        for (int i = 0; i < symbols.Count; i++)
        {
            var symbol = symbols[i];
            var entry = table.AsSpan((i + 1) * SymbolSize);
            BinaryPrimitives.WriteUInt32LittleEndian(entry, symbol.Name.Length == 0 ? 0 : names.Add(symbol.Name));
            entry[4] = (byte)(((byte)symbol.Binding << 4) | (byte)symbol.Type);
            entry[5] = symbol.Visibility;
            BinaryPrimitives.WriteUInt16LittleEndian(entry[6..], (ushort)(symbol.Section is null ? 0 : sectionIndex[symbol.Section]));
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], symbol.Value);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[16..], symbol.Size);
        }

        int firstGlobal = symbols.Count(s => s.Binding == ElfSymbolBinding.Local) + 1;
        headers.Add(new SectionHeader(sectionNames.Add(".symtab"), ElfSectionType.SymTab, 0, table, (ulong)table.Length, (uint)symbolTable + 1, (uint)firstGlobal, 8, SymbolSize));
        headers.Add(new SectionHeader(sectionNames.Add(".strtab"), ElfSectionType.StrTab, 0, names.Bytes(), (ulong)names.Length, 0, 0, 1, 0));
        var shstrtabName = sectionNames.Add(".shstrtab");
        headers.Add(new SectionHeader(shstrtabName, ElfSectionType.StrTab, 0, sectionNames.Bytes(), (ulong)sectionNames.Length, 0, 0, 1, 0));
        return Lay(headers);
    }

    private static byte[] Lay(List<SectionHeader> headers)
    {
        var offsets = new ulong[headers.Count];
        ulong position = HeaderSize;
        for (int i = 0; i < headers.Count; i++)
        {
            var alignment = Math.Max(1, headers[i].Alignment);
            position = (position + alignment - 1) / alignment * alignment;
            offsets[i] = position;
            if (headers[i].Type != ElfSectionType.NoBits)
            {
                position += (ulong)headers[i].Data.Length;
            }
        }

        position = (position + 7) / 8 * 8;
        var sectionHeaders = position;
        var file = new byte[sectionHeaders + (ulong)((headers.Count + 1) * SectionHeaderSize)];
        WriteHeader(file, sectionHeaders, headers.Count + 1);
        for (int i = 0; i < headers.Count; i++)
        {
            var header = headers[i];
            if (header.Type != ElfSectionType.NoBits)
            {
                header.Data.CopyTo(file.AsSpan((int)offsets[i]));
            }

            var entry = file.AsSpan((int)sectionHeaders + ((i + 1) * SectionHeaderSize));
            BinaryPrimitives.WriteUInt32LittleEndian(entry, header.Name);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], header.Type);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], header.Flags);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[24..], offsets[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[32..], header.Size);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[40..], header.Link);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[44..], header.Info);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[48..], header.Alignment);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[56..], header.EntrySize);
        }

        return file;
    }

    private static void WriteHeader(byte[] file, ulong sectionHeaders, int sectionCount)
    {
        "\x7f"u8.CopyTo(file);
        "ELF"u8.CopyTo(file.AsSpan(1));
        file[4] = 2; // 64-bit
        file[5] = 1; // little-endian
        file[6] = 1; // EV_CURRENT
        var header = file.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(header[16..], 1); // ET_REL
        BinaryPrimitives.WriteUInt16LittleEndian(header[18..], 62); // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(header[40..], sectionHeaders);
        BinaryPrimitives.WriteUInt16LittleEndian(header[52..], HeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(header[58..], SectionHeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(header[60..], (ushort)sectionCount);
        BinaryPrimitives.WriteUInt16LittleEndian(header[62..], (ushort)(sectionCount - 1));
    }

    private sealed record SectionHeader(uint Name, uint Type, ulong Flags, byte[] Data, ulong Size, uint Link, uint Info, ulong Alignment, ulong EntrySize);

    private sealed class StringTableBuilder
    {
        private readonly MemoryStream _bytes = new();
        private readonly Dictionary<string, uint> _offsets = [];

        public StringTableBuilder()
        {
            _bytes.WriteByte(0); // offset 0: the empty name
        }

        public int Length => (int)_bytes.Length;

        public uint Add(string name)
        {
            if (!_offsets.TryGetValue(name, out var offset))
            {
                offset = (uint)_bytes.Length;
                _bytes.Write(Encoding.UTF8.GetBytes(name));
                _bytes.WriteByte(0);
                _offsets[name] = offset;
            }

            return offset;
        }

        public byte[] Bytes() => _bytes.ToArray();
    }
}
