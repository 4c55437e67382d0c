using Iced.Intel;

namespace Graft.X86.Tests.Native;

/// <summary>Machine code for the tests' own native helpers, assembled with Iced at the address it will run from.</summary>
internal static class Assembled
{
    public static byte[] At(ulong address, Action<Assembler> emit)
    {
        var assembler = new Assembler(64);
        emit(assembler);
        var writer = new Writer();
        assembler.Assemble(writer, address);
        return [.. writer.Bytes];
    }

    private sealed class Writer : CodeWriter
    {
        public List<byte> Bytes { get; } = [];

        public override void WriteByte(byte value)
        {
            Bytes.Add(value);
        }
    }
}
