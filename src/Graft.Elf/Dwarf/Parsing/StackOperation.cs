using Graft.Elf.Parsing;

using static Graft.Elf.Dwarf.Parsing.DwarfOpcode;

namespace Graft.Elf.Dwarf.Parsing;

/// <summary>The DWARF operations that push constants, read memory, or rearrange the stack.</summary>
internal static class StackOperation
{
    public static void Execute(byte op, ref ByteReader reader, ExpressionStack stack, IDwarfExpressionContext context)
    {
        switch (op)
        {
            case Addr or Const8u:
                stack.Push(reader.U64());
                break;
            case Const1u:
                stack.Push(reader.U8());
                break;
            case Const1s:
                stack.Push(unchecked((ulong)reader.S8()));
                break;
            case Const2u:
                stack.Push(reader.U16());
                break;
            case Const2s:
                stack.Push(unchecked((ulong)reader.S16()));
                break;
            case Const4u:
                stack.Push(reader.U32());
                break;
            case Const4s:
                stack.Push(unchecked((ulong)reader.S32()));
                break;
            case Const8s:
                stack.Push(unchecked((ulong)reader.S64()));
                break;
            case Constu:
                stack.Push(reader.Uleb128());
                break;
            case Consts:
                stack.Push(unchecked((ulong)reader.Sleb128()));
                break;
            case PlusUconst:
                stack.Push(unchecked(stack.Pop() + reader.Uleb128()));
                break;
            case Deref:
                stack.Push(context.ReadMemory(stack.Pop()));
                break;
            case DerefSize:
                stack.Push(DerefSized(reader.U8(), stack.Pop(), context));
                break;
            case Dup:
                stack.Push(stack.Peek(0));
                break;
            case Drop:
                stack.Pop();
                break;
            case Over:
                stack.Push(stack.Peek(1));
                break;
            case Pick:
                stack.Push(stack.Peek(reader.U8()));
                break;
            case Swap:
                ulong top = stack.Pop();
                ulong second = stack.Pop();
                stack.Push(top);
                stack.Push(second);
                break;
            case Rot:
                stack.Rotate();
                break;
            case Abs:
                long value = unchecked((long)stack.Pop());
                stack.Push(unchecked((ulong)(value < 0 ? -value : value)));
                break;
            case Neg:
                stack.Push(unchecked(0 - stack.Pop()));
                break;
            case Not:
                stack.Push(~stack.Pop());
                break;
            default:
                throw new ElfFormatException($"DWARF expression uses unsupported operation 0x{op:x2}");
        }
    }

    private static ulong DerefSized(byte size, ulong address, IDwarfExpressionContext context)
    {
        if (size is 0 or > 8)
        {
            throw new ElfFormatException($"DW_OP_deref_size with size {size}; must be 1..8");
        }

        ulong value = context.ReadMemory(address);
        return size == 8 ? value : value & ((1UL << (size * 8)) - 1);
    }
}
