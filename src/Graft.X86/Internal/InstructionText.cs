using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>Renders instructions and function offsets for refusal messages.</summary>
internal static class InstructionText
{
    public static string Format(in Instruction instruction)
    {
        var formatter = new IntelFormatter();
        formatter.Options.HexPrefix = "0x";
        formatter.Options.HexSuffix = null;
        formatter.Options.UppercaseHex = false;
        formatter.Options.SpaceAfterOperandSeparator = false;
        formatter.Options.RipRelativeAddresses = false;
        formatter.Options.ShowBranchSize = false;
        formatter.Options.BranchLeadingZeros = false;
        var output = new StringOutput();
        formatter.Format(instruction, output);
        return output.ToStringAndReset();
    }

    public static string At(DecodedFunction function, in Instruction instruction)
    {
        return $"the instruction at {Offset(function.Offset(instruction.IP))} ({Format(instruction)})";
    }

    public static string Offset(int offset)
    {
        return $"+0x{offset:x}";
    }

    public static string Bytes(ReadOnlySpan<byte> bytes, int count)
    {
        return string.Join(" ", bytes[..Math.Min(count, bytes.Length)].ToArray().Select(b => b.ToString("x2")));
    }
}
