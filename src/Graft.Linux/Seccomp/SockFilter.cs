namespace Graft.Linux.Seccomp;

/// <summary>One classic BPF instruction (struct sock_filter: u16 code; u8 jt; u8 jf; u32 k).</summary>
public readonly record struct SockFilter(ushort Code, byte Jt, byte Jf, uint K)
{
    public const int Size = 8;

    public static SockFilter Read(ReadOnlySpan<byte> bytes) =>
        new(BitConverter.ToUInt16(bytes), bytes[2], bytes[3], BitConverter.ToUInt32(bytes[4..]));

    public override string ToString() => $"{Code:x4} {Jt} {Jf} {K:x8}";
}
