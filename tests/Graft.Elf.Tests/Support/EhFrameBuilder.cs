using System.Buffers.Binary;
using System.Text;

namespace Graft.Elf.Tests.Support;

/// <summary>Assembles .eh_frame bytes entry by entry, for cases the system's files do not contain.</summary>
internal sealed class EhFrameBuilder
{
    private readonly List<byte> _bytes = [];

    /// <summary>Offset the next FDE's pc_begin field will have (after its length and CIE pointer).</summary>
    public int NextFdeAddressField(bool dwarf64 = false) => _bytes.Count + (dwarf64 ? 20 : 8);

    public int AddCie(string augmentation, byte[] augmentationData, byte[] instructions, bool dwarf64 = false, ulong codeAlignment = 1, long dataAlignment = -8)
    {
        var body = new List<byte> { 1 };
        body.AddRange(Encoding.ASCII.GetBytes(augmentation));
        body.Add(0);
        body.AddRange(Uleb(codeAlignment));
        body.AddRange(Sleb(dataAlignment));
        body.Add(16);
        if (augmentation.StartsWith('z'))
        {
            body.AddRange(Uleb((ulong)augmentationData.Length));
            body.AddRange(augmentationData);
        }

        body.AddRange(instructions);
        return AddEntry(dwarf64, _ => 0, body);
    }

    public int AddFde(int cie, byte[] addresses, byte[]? augmentationData, byte[] instructions, bool dwarf64 = false)
    {
        var body = new List<byte>(addresses);
        if (augmentationData is not null)
        {
            body.AddRange(Uleb((ulong)augmentationData.Length));
            body.AddRange(augmentationData);
        }

        body.AddRange(instructions);
        return AddEntry(dwarf64, idField => (ulong)(idField - cie), body);
    }

    public EhFrameBuilder AddRaw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public byte[] Build() => [.. _bytes, 0, 0, 0, 0];

    public static byte[] Uleb(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value & 0x7f);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }

    public static byte[] Sleb(long value)
    {
        var bytes = new List<byte>();
        while (true)
        {
            byte b = (byte)(value & 0x7f);
            value >>= 7;
            bool done = (value == 0 && (b & 0x40) == 0) || (value == -1 && (b & 0x40) != 0);
            bytes.Add(done ? b : (byte)(b | 0x80));
            if (done)
            {
                return [.. bytes];
            }
        }
    }

    public static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    public static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    private int AddEntry(bool dwarf64, Func<int, ulong> id, List<byte> body)
    {
        int start = _bytes.Count;
        int idSize = dwarf64 ? 8 : 4;
        int idField = start + (dwarf64 ? 12 : 4);
        ulong length = (ulong)(idSize + body.Count);
        if (dwarf64)
        {
            _bytes.AddRange(U32(0xffffffff));
            _bytes.AddRange(U64(length));
            _bytes.AddRange(U64(id(idField)));
        }
        else
        {
            _bytes.AddRange(U32((uint)length));
            _bytes.AddRange(U32((uint)id(idField)));
        }

        _bytes.AddRange(body);
        return start;
    }
}
