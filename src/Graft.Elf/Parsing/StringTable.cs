using System.Text;

namespace Graft.Elf.Parsing;

/// <summary>An ELF string table: NUL-terminated names addressed by byte offset.</summary>
internal sealed class StringTable(ReadOnlyMemory<byte> data, string name)
{
    public string Get(ulong offset)
    {
        if (offset >= (ulong)data.Length)
        {
            if (offset == 0)
            {
                return string.Empty;
            }

            throw new ElfFormatException($"string offset 0x{offset:x} is outside {name} ({data.Length} bytes)");
        }

        ReadOnlySpan<byte> rest = data.Span[(int)offset..];
        int length = rest.IndexOf((byte)0);
        if (length < 0)
        {
            throw new ElfFormatException($"string at offset 0x{offset:x} in {name} has no terminating NUL");
        }

        return Encoding.UTF8.GetString(rest[..length]);
    }
}
