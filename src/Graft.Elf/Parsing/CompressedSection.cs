using System.Buffers.Binary;
using System.IO.Compression;

namespace Graft.Elf.Parsing;

/// <summary>
/// A section stored compressed (SHF_COMPRESSED), as `objcopy --compress-debug-sections` and Debian's dh_strip leave
/// the DWARF of a -dbgsym package: an Elf64_Chdr (ch_type, ch_reserved, ch_size, ch_addralign), then the stream.
/// Its header is checked when the file is parsed; its contents are decompressed when first read.
/// </summary>
internal static class CompressedSection
{
    public const ulong Flag = 0x800;

    private const int HeaderSize = 24;
    private const uint Zlib = 1;
    private const uint Zstd = 2;
    private const ulong MaxExpansion = 1100;

    /// <exception cref="ElfFormatException">The header does not fit, or names no method ELF defines, or a size beyond what graft reads.</exception>
    public static void CheckHeader(ReadOnlySpan<byte> stored, string what)
    {
        if (stored.Length < HeaderSize)
        {
            throw new ElfFormatException($"{what} is compressed but has no room for its header ({stored.Length} bytes)");
        }

        var type = BinaryPrimitives.ReadUInt32LittleEndian(stored);
        if (type is not (Zlib or Zstd))
        {
            throw new ElfFormatException($"{what} is compressed with the unknown method {type}");
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(stored[8..]) > int.MaxValue)
        {
            throw new ElfFormatException($"{what} decompresses to more bytes than graft reads");
        }
    }

    /// <summary>The contents; null when graft cannot read them: zstd, or a zlib stream that does not give the size its
    /// header says. A reader that needs them says so (a section read empty that is not).</summary>
    public static byte[]? TryDecompress(ReadOnlyMemory<byte> stored)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(stored.Span) != Zlib)
        {
            return null;
        }

        // deflate expands at most about 1032 to 1: a larger size is a damaged header, not worth the allocation.
        var size = BinaryPrimitives.ReadUInt64LittleEndian(stored.Span[8..]);
        if (size > (ulong)stored.Length * MaxExpansion)
        {
            return null;
        }

        var data = new byte[size];
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(stored[HeaderSize..].ToArray()), CompressionMode.Decompress);
            zlib.ReadExactly(data);
            return data;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            return null;
        }
    }
}
