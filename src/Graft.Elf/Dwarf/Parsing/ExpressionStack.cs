namespace Graft.Elf.Dwarf.Parsing;

/// <summary>The DWARF expression stack, bounded so a hostile expression cannot grow it without limit.</summary>
internal sealed class ExpressionStack
{
    private const int Capacity = 1024;
    private readonly ulong[] _items = new ulong[Capacity];
    private int _count;

    public bool IsEmpty => _count == 0;

    public void Push(ulong value)
    {
        if (_count == Capacity)
        {
            throw new ElfFormatException($"DWARF expression pushes more than {Capacity} values");
        }

        _items[_count++] = value;
    }

    public ulong Pop()
    {
        Require(1);
        return _items[--_count];
    }

    /// <summary>The entry <paramref name="depth"/> below the top (0 = top).</summary>
    public ulong Peek(int depth)
    {
        Require(depth + 1);
        return _items[_count - 1 - depth];
    }

    /// <summary>DW_OP_rot: the top entry moves down to third place, the two below it move up.</summary>
    public void Rotate()
    {
        Require(3);
        (_items[_count - 1], _items[_count - 2], _items[_count - 3]) = (_items[_count - 2], _items[_count - 3], _items[_count - 1]);
    }

    private void Require(int count)
    {
        if (_count < count)
        {
            throw new ElfFormatException($"DWARF expression needs {count} values on the stack but has {_count}");
        }
    }
}
