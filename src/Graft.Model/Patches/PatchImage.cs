using System.Buffers.Binary;
using System.Text;
using Graft.Elf;

namespace Graft.Model.Patches;

/// <summary>
/// The patch's memory image as the dynamic linker would build it, read statically: a pointer
/// in position-independent data is a relocation, so reading one applies it.
/// </summary>
internal sealed class PatchImage(ElfFile elf, string path)
{
    private const int MaxStringLength = 4096;

    private readonly Dictionary<ulong, ElfRelocation> relocations = elf.Relocations
        .GroupBy(r => r.Offset)
        .ToDictionary(g => g.Key, g => g.First());

    public ulong ReadPointer(ulong address)
    {
        if (relocations.TryGetValue(address, out var relocation))
        {
            return relocation.Type switch
            {
                ElfRelocationType.R_X86_64_RELATIVE => (ulong)relocation.Addend,
                ElfRelocationType.R_X86_64_64 when relocation.Symbol is { IsDefined: true } symbol => symbol.Value + (ulong)relocation.Addend,
                _ => throw Fail($"the pointer at 0x{address:x} refers to '{relocation.Symbol?.Name}', which is not defined in the patch"),
            };
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(Read(address, 8));
    }

    public byte ReadByte(ulong address) => Read(address, 1)[0];

    public uint ReadUInt32(ulong address) => BinaryPrimitives.ReadUInt32LittleEndian(Read(address, 4));

    public string? ReadString(ulong pointerAddress)
    {
        var address = ReadPointer(pointerAddress);
        if (address == 0)
        {
            return null;
        }

        var bytes = new List<byte>();
        Span<byte> one = stackalloc byte[1];
        while (bytes.Count < MaxStringLength)
        {
            if (!elf.TryReadAtAddress(address + (ulong)bytes.Count, one))
            {
                throw Fail($"a string at 0x{address:x} runs outside the file");
            }

            if (one[0] == 0)
            {
                var text = Encoding.UTF8.GetString([.. bytes]);
                return text.Any(char.IsControl)
                    ? throw Fail($"a name at 0x{address:x} holds control characters (a newline, an escape sequence ...)")
                    : text;
            }

            bytes.Add(one[0]);
        }

        throw Fail($"a string at 0x{address:x} is longer than {MaxStringLength} bytes");
    }

    public PatchFormatException Fail(string reason) => new($"{path}: {reason}");

    private byte[] Read(ulong address, int length)
    {
        var bytes = new byte[length];
        return elf.TryReadAtAddress(address, bytes) ? bytes : throw Fail($"address 0x{address:x} is outside the patch's image");
    }
}
