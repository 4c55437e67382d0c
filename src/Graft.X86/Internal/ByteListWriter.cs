using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>Collects what Iced's encoders write.</summary>
internal sealed class ByteListWriter : CodeWriter
{
    private readonly List<byte> _bytes = [];

    public override void WriteByte(byte value)
    {
        _bytes.Add(value);
    }

    public byte[] ToArray()
    {
        return [.. _bytes];
    }
}
