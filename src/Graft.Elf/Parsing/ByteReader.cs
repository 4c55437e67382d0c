using System.Buffers.Binary;

namespace Graft.Elf.Parsing;

/// <summary>Little-endian cursor over a span; every read is bounds-checked and fails with an
/// <see cref="ElfFormatException"/> naming <c>what</c> is being read.</summary>
internal ref struct ByteReader
{
    private const int MaxLeb128Bytes = 10;

    private readonly ReadOnlySpan<byte> _data;
    private readonly string _what;
    private int _position;

    public ByteReader(ReadOnlySpan<byte> data, string what, int position = 0)
    {
        _data = data;
        _what = what;
        Position = position;
    }

    public readonly int Length => _data.Length;

    public readonly int Remaining => _data.Length - _position;

    public readonly bool AtEnd => _position >= _data.Length;

    public int Position
    {
        readonly get => _position;
        set
        {
            if (value < 0 || value > _data.Length)
            {
                throw new ElfFormatException($"{_what}: offset 0x{value:x} is outside its {_data.Length} bytes");
            }

            _position = value;
        }
    }

    public byte U8() => Take(1)[0];

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public sbyte S8() => (sbyte)Take(1)[0];

    public short S16() => BinaryPrimitives.ReadInt16LittleEndian(Take(2));

    public int S32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public long S64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public ulong Uleb128()
    {
        ulong result = 0;
        for (int i = 0; i < MaxLeb128Bytes; i++)
        {
            byte b = U8();
            result |= (ulong)(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new ElfFormatException($"{_what}: LEB128 number at offset 0x{_position:x} is longer than {MaxLeb128Bytes} bytes");
    }

    public long Sleb128()
    {
        long result = 0;
        for (int i = 0; i < MaxLeb128Bytes; i++)
        {
            byte b = U8();
            int shift = 7 * i;
            result |= (long)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                if ((b & 0x40) != 0 && shift + 7 < 64)
                {
                    result |= -1L << (shift + 7);
                }

                return result;
            }
        }

        throw new ElfFormatException($"{_what}: LEB128 number at offset 0x{_position:x} is longer than {MaxLeb128Bytes} bytes");
    }

    /// <summary>Reads a length that must fit in the remaining bytes (LEB128 block lengths, counts).</summary>
    public int Uleb128Length()
    {
        ulong value = Uleb128();
        if (value > (ulong)Remaining)
        {
            throw new ElfFormatException($"{_what}: length {value} at offset 0x{_position:x} runs past the end ({Remaining} bytes left)");
        }

        return (int)value;
    }

    public ReadOnlySpan<byte> Bytes(int count) => Take(count);

    /// <summary>Reads bytes up to a NUL and consumes the NUL.</summary>
    public ReadOnlySpan<byte> NulTerminated()
    {
        int length = _data[_position..].IndexOf((byte)0);
        if (length < 0)
        {
            throw new ElfFormatException($"{_what}: string at offset 0x{_position:x} has no terminating NUL");
        }

        ReadOnlySpan<byte> text = Take(length);
        _position++;
        return text;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > Remaining)
        {
            throw new ElfFormatException($"{_what} truncated: needed {count} bytes at offset 0x{_position:x}, {Remaining} left");
        }

        ReadOnlySpan<byte> slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }
}
