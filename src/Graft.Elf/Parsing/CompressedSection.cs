using System.Buffers.Binary;
using System.IO.Compression;

namespace Graft.Elf.Parsing;

/// <summary>
/// A section stored compressed (SHF_COMPRESSED), as `objcopy --compress-debug-sections` and Debian's dh_strip leave
/// the DWARF of a -dbgsym package: an Elf64_Chdr (ch_type, ch_reserved, ch_size, ch_addralign), then the stream.
/// </summary>
internal static class CompressedSection
{
    public const ulong Flag = 0x800;

    private const int HeaderSize = 24;
    private const uint Zlib = 1;
    private const uint Zstd = 2;

    public static byte[] Decompress(ReadOnlyMemory<byte> stored, string what)
    {
        var bytes = stored.Span;
        if (bytes.Length < HeaderSize)
        {
            throw new ElfFormatException($"{what} is compressed but has no room for its header ({bytes.Length} bytes)");
        }

        var type = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        var size = BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
        if (type != Zlib)
        {
            throw new ElfFormatException(type == Zstd
                ? $"{what} is compressed with zstd, which graft does not read (recompress it: objcopy --decompress-debug-sections)"
                : $"{what} is compressed with the unknown method {type}");
        }

        if (size > int.MaxValue)
        {
            throw new ElfFormatException($"{what} decompresses to {size} bytes, more than graft reads");
        }

        var data = new byte[size];
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(stored[HeaderSize..].ToArray()), CompressionMode.Decompress);
            zlib.ReadExactly(data);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new ElfFormatException($"{what} does not decompress to the {size} bytes its header gives ({e.Message})");
        }

        return data;
    }
}
