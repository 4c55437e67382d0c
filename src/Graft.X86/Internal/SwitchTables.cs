using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>
/// gcc's and clang's switch dispatch, and the targets its tables hold. Non-PIE code jumps through a table of absolute
/// addresses (<c>jmp [table + index*8]</c>); PIE code adds a 32-bit entry to the table's own address
/// (<c>lea base, [rip+table]; movsxd r, [base + index*4]; add r, base; jmp r</c>), marked <c>notrack</c> under
/// -fcf-protection. A table has no length of its own: entries are read while they land inside the function, which
/// is where a switch's cases are (a neighbouring table read on is harmless: its targets are checked too).
/// </summary>
internal static class SwitchTables
{
    private const int MaxEntries = 4096;
    private const int LookBack = 8;

    /// <summary>Whether the indirect jump at <paramref name="index"/> dispatches a switch (rather than making a tail call).</summary>
    public static bool IsDispatch(IReadOnlyList<Instruction> instructions, int index)
    {
        Instruction jump = instructions[index];
        if (jump.SegmentPrefix == Register.DS)
        {
            return true;
        }

        if (jump.Op0Kind == OpKind.Memory)
        {
            return jump.MemoryIndex != Register.None && jump.MemoryBase != Register.RIP;
        }

        return AddInto(instructions, index, jump.Op0Register) is not null;
    }

    /// <summary>
    /// The targets of every switch in the function, or the address of a dispatch whose table could not be found
    /// (<paramref name="readData"/> reads the object's data at a runtime address, null where it has none).
    /// </summary>
    public static (List<ulong> Targets, ulong? Unfound) Targets(DecodedFunction function, ulong end, Func<ulong, int, byte[]?> readData)
    {
        var targets = new List<ulong>();
        for (int index = 0; index < function.Instructions.Count; index++)
        {
            Instruction jump = function.Instructions[index];
            if (jump.FlowControl != FlowControl.IndirectBranch || !IsDispatch(function.Instructions, index))
            {
                continue;
            }

            if (jump.Op0Kind == OpKind.Memory && jump.MemoryBase == Register.None && jump.MemoryIndexScale == 8)
            {
                ReadEntries(jump.MemoryDisplacement64, 8, entry => BitConverter.ToUInt64(entry), function.Address, end, readData, targets);
            }
            else if (jump.Op0Kind == OpKind.Register && TableBase(function.Instructions, index) is ulong table)
            {
                ReadEntries(table, 4, entry => table + (ulong)(long)BitConverter.ToInt32(entry), function.Address, end, readData, targets);
            }
            else
            {
                return (targets, jump.IP);
            }
        }

        return (targets, null);
    }

    private static void ReadEntries(ulong table, int size, Func<byte[], ulong> target, ulong start, ulong end, Func<ulong, int, byte[]?> readData, List<ulong> targets)
    {
        for (int entry = 0; entry < MaxEntries; entry++)
        {
            if (readData(table + (ulong)(entry * size), size) is not { } bytes || target(bytes) is var address && (address < start || address >= end))
            {
                return;
            }

            targets.Add(address);
        }
    }

    // jmp r, just after add r, base: the base register holds the table, loaded by a RIP-relative lea before.
    private static ulong? TableBase(IReadOnlyList<Instruction> instructions, int index)
    {
        if (AddInto(instructions, index, instructions[index].Op0Register) is not { } add)
        {
            return null;
        }

        Register baseRegister = add.Op1Kind == OpKind.Register ? add.Op1Register : Register.None;
        for (int back = index - 1; back >= 0; back--)
        {
            Instruction previous = instructions[back];
            if (previous.Mnemonic == Mnemonic.Lea && previous.Op0Register == baseRegister && previous.IsIPRelativeMemoryOperand)
            {
                return previous.IPRelativeMemoryAddress;
            }
        }

        return null;
    }

    private static Instruction? AddInto(IReadOnlyList<Instruction> instructions, int index, Register register)
    {
        for (int back = index - 1; back >= Math.Max(0, index - LookBack); back--)
        {
            Instruction previous = instructions[back];
            if (previous.Mnemonic == Mnemonic.Add && previous.Op0Kind == OpKind.Register && previous.Op0Register == register)
            {
                return previous;
            }
        }

        return null;
    }
}
