using Iced.Intel;

namespace Graft.X86;

/// <summary>The bytes a compiler or assembler puts between functions to align the next one.</summary>
public static class Padding
{
    /// <summary>
    /// Whether <paramref name="bytes"/> are nothing but alignment padding: whole nop
    /// instructions (of any length the assembler picks) and int3 bytes, ending exactly at the
    /// span's end, so that no code of a function lies among them.
    /// </summary>
    public static bool IsPadding(ReadOnlySpan<byte> bytes)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes.ToArray()));
        var length = 0;
        while (length < bytes.Length)
        {
            var instruction = decoder.Decode();
            if (instruction.IsInvalid || instruction.Mnemonic is not (Mnemonic.Nop or Mnemonic.Int3))
            {
                return false;
            }

            length += instruction.Length;
        }

        return length == bytes.Length;
    }
}
