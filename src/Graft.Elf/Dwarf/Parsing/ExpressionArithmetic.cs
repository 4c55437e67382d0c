using static Graft.Elf.Dwarf.Parsing.DwarfOpcode;

namespace Graft.Elf.Dwarf.Parsing;

/// <summary>The two-operand DWARF operations on generic (64-bit) values: <c>second op top</c>.</summary>
internal static class ExpressionArithmetic
{
    public static bool IsBinary(byte op) => op is (>= And and <= Xor and not (Neg or Not or PlusUconst)) or (>= Eq and <= Ne);

    public static ulong Apply(byte op, ulong second, ulong top)
    {
        long signedSecond = unchecked((long)second);
        long signedTop = unchecked((long)top);
        return op switch
        {
            And => second & top,
            Or => second | top,
            Xor => second ^ top,
            Plus => unchecked(second + top),
            Minus => unchecked(second - top),
            Mul => unchecked(second * top),
            Div => unchecked((ulong)SignedDivide(signedSecond, signedTop)),
            Mod => top == 0 ? throw new ElfFormatException("DWARF expression divides by zero (DW_OP_mod)") : second % top,
            Shl => top >= 64 ? 0 : second << (int)top,
            Shr => top >= 64 ? 0 : second >> (int)top,
            Shra => unchecked((ulong)(signedSecond >> (int)Math.Min(top, 63))),
            Eq => Truth(second == top),
            Ne => Truth(second != top),
            Ge => Truth(signedSecond >= signedTop),
            Gt => Truth(signedSecond > signedTop),
            Le => Truth(signedSecond <= signedTop),
            Lt => Truth(signedSecond < signedTop),
            _ => throw new ElfFormatException($"DW_OP 0x{op:x2} is not a binary operation"),
        };
    }

    private static long SignedDivide(long dividend, long divisor)
    {
        return divisor switch
        {
            0 => throw new ElfFormatException("DWARF expression divides by zero (DW_OP_div)"),
            -1 => unchecked(-dividend),
            _ => dividend / divisor,
        };
    }

    private static ulong Truth(bool value) => value ? 1UL : 0UL;
}
