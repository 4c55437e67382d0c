using Graft.Elf.Dwarf.Parsing;
using Graft.Elf.Parsing;

using static Graft.Elf.Dwarf.Parsing.DwarfOpcode;

namespace Graft.Elf.Dwarf;

/// <summary>Evaluates the DWARF expressions found in CFI (DWARF 5, 2.5): a stack machine over 64-bit values.</summary>
public static class DwarfExpression
{
    /// <summary>Bounds the work of one evaluation, so a loop built from DW_OP_bra/DW_OP_skip ends.</summary>
    public const int MaxOperations = 10_000;

    /// <param name="initialValue">Pushed before the first operation; DW_CFA_expression and
    /// DW_CFA_val_expression require the CFA here.</param>
    /// <returns>The value on top of the stack when the expression ends.</returns>
    /// <exception cref="ElfFormatException">The expression is malformed, uses an unsupported operation,
    /// or runs more than <see cref="MaxOperations"/> operations.</exception>
    public static ulong Evaluate(ReadOnlySpan<byte> expression, IDwarfExpressionContext context, ulong? initialValue = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var stack = new ExpressionStack();
        if (initialValue is { } initial)
        {
            stack.Push(initial);
        }

        var reader = new ByteReader(expression, "DWARF expression");
        for (int executed = 0; !reader.AtEnd; executed++)
        {
            if (executed == MaxOperations)
            {
                throw new ElfFormatException($"DWARF expression did not finish within {MaxOperations} operations (a loop?)");
            }

            Step(ref reader, stack, context);
        }

        return stack.IsEmpty ? throw new ElfFormatException("DWARF expression leaves an empty stack") : stack.Pop();
    }

    private static void Step(ref ByteReader reader, ExpressionStack stack, IDwarfExpressionContext context)
    {
        byte op = reader.U8();
        if (ExpressionArithmetic.IsBinary(op))
        {
            ulong top = stack.Pop();
            stack.Push(ExpressionArithmetic.Apply(op, stack.Pop(), top));
            return;
        }

        switch (op)
        {
            case >= Lit0 and <= Lit31:
                stack.Push((ulong)(op - Lit0));
                break;
            case >= Breg0 and <= Breg31:
                stack.Push(unchecked(context.ReadRegister(op - Breg0) + (ulong)reader.Sleb128()));
                break;
            case Bregx:
                int register = RegisterNumber(reader.Uleb128());
                stack.Push(unchecked(context.ReadRegister(register) + (ulong)reader.Sleb128()));
                break;
            case >= Reg0 and <= Reg31 or Regx:
                throw new ElfFormatException(
                    $"DW_OP_reg* (0x{op:x2}) names a register location, which is not a location expression we support in CFI");
            case Skip:
                Jump(ref reader, reader.S16());
                break;
            case Bra:
                short offset = reader.S16();
                if (stack.Pop() != 0)
                {
                    Jump(ref reader, offset);
                }

                break;
            case Nop:
                break;
            default:
                StackOperation.Execute(op, ref reader, stack, context);
                break;
        }
    }

    private static void Jump(ref ByteReader reader, short offset)
    {
        int target = reader.Position + offset;
        if (target < 0 || target > reader.Length)
        {
            throw new ElfFormatException($"DWARF expression branches to offset {target}, outside its {reader.Length} bytes");
        }

        reader.Position = target;
    }

    private static int RegisterNumber(ulong register)
    {
        return register <= CfiInterpreter.MaxRegister
            ? (int)register
            : throw new ElfFormatException($"DWARF expression names register {register}, beyond {CfiInterpreter.MaxRegister}");
    }
}
