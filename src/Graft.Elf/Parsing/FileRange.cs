namespace Graft.Elf.Parsing;

/// <summary>Turns 64-bit (offset, size) pairs from headers into slices of the image, refusing any that
/// overflow or reach past its end.</summary>
internal static class FileRange
{
    public static bool Fits(ulong offset, ulong size, int imageLength)
    {
        return offset <= (ulong)imageLength && size <= (ulong)imageLength - offset;
    }

    public static ReadOnlyMemory<byte> Slice(ReadOnlyMemory<byte> image, ulong offset, ulong size, string what)
    {
        if (!Fits(offset, size, image.Length))
        {
            throw new ElfFormatException(
                $"{what} lies outside the file: offset 0x{offset:x} + size 0x{size:x} > file size 0x{image.Length:x}");
        }

        return image.Slice((int)offset, (int)size);
    }
}
