using System.Buffers.Binary;
using System.Text;

namespace Graft.Elf;

/// <summary>The .gnu_debuglink section: the file name of the object's separate debug file and the CRC-32 of that file.</summary>
public sealed record DebugLink(string FileName, uint Crc)
{
    /// <summary>The object's debug link, or null when it has none.</summary>
    /// <exception cref="ElfFormatException">The section is malformed.</exception>
    public static DebugLink? Read(ElfFile elf)
    {
        ArgumentNullException.ThrowIfNull(elf);
        if (elf.FindSection(".gnu_debuglink") is not { } section)
        {
            return null;
        }

        // The name, its NUL, padding to 4 bytes, then the CRC.
        ReadOnlySpan<byte> data = elf.GetSectionData(section).Span;
        int end = data.IndexOf((byte)0);
        int crcAt = (end + 4) & ~3;
        if (end <= 0 || crcAt + 4 > data.Length)
        {
            throw new ElfFormatException($".gnu_debuglink of {data.Length} bytes holds no file name and CRC");
        }

        string name = Encoding.UTF8.GetString(data[..end]);
        if (name.Contains('/', StringComparison.Ordinal))
        {
            throw new ElfFormatException($".gnu_debuglink names '{name}', not a file name");
        }

        return new DebugLink(name, BinaryPrimitives.ReadUInt32LittleEndian(data[crcAt..]));
    }
}
