using System.Buffers.Binary;
using System.Numerics;

using Graft.X86.Internal;

using Iced.Intel;

using static Iced.Intel.AssemblerRegisters;

namespace Graft.X86;

/// <summary>
/// Builds the dispatcher a slot jumps through during a per-thread transition: it finds the calling thread in the
/// thread table (<see cref="ThreadTableLayout"/>) and goes on to the old code or to the new function.
/// </summary>
public static class DispatcherCode
{
    // The 64-bit constants sit in aligned words at the end of the stub, after the code and its int3 padding.
    private const int NewTargetOffset = SlotLayout.DispatcherCapacity - WordSize;
    private const int OldTargetOffset = NewTargetOffset - WordSize;
    private const int EntriesEndOffset = OldTargetOffset - WordSize;
    private const int EntriesStartOffset = EntriesEndOffset - WordSize;
    private const int TableHeaderOffset = EntriesStartOffset - WordSize;
    private const int MultiplierOffset = TableHeaderOffset - WordSize;
    private const int WordSize = 8;

    // Below the return address the dispatcher finds on entry: the red zone of the function being entered.
    private const int SavedR10Offset = -8;
    private const int SavedR11Offset = -16;

    // Where the two stores that save them end (each is 5 bytes: mov [rsp+disp8], r64).
    private const int R10SavedFrom = 5;
    private const int R11SavedFrom = 10;

    /// <summary>
    /// Where the code that lets a thread switch itself begins. Its bytes do not depend on where the stub is: every
    /// word it reads is RIP-relative within the stub, and every jump stays inside it.
    /// </summary>
    public static int SelfSwitchFrom { get; } = Assemble(0x1000).SelfSwitchFrom;

    /// <summary>
    /// The registers as they were when the dispatcher was entered, for a thread stopped at <paramref name="offset"/>
    /// into it: r10 and r11, once saved, are read back from the red zone, at <paramref name="rsp"/> minus 8 and 16
    /// (<paramref name="read"/> reads a word of the thread's memory). Such a thread can be put back at the function's
    /// entry: the dispatcher has changed nothing else, and nothing the thread did in it counts. Null from
    /// <see cref="SelfSwitchFrom"/> on, where the thread has more registers in the red zone and may have switched its
    /// universe: it is left to run out of the stub, which takes a microsecond or so.
    /// </summary>
    public static (ulong R10, ulong R11)? EntryRegisters(int offset, ulong rsp, ulong r10, ulong r11, Func<ulong, ulong> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        if (offset >= SelfSwitchFrom)
        {
            return null;
        }

        return (offset >= R10SavedFrom ? read(rsp + unchecked((ulong)SavedR10Offset)) : r10,
            offset >= R11SavedFrom ? read(rsp + unchecked((ulong)SavedR11Offset)) : r11);
    }

    private const byte Int3 = 0xCC;

    /// <summary>
    /// The <see cref="SlotLayout.DispatcherCapacity"/> bytes of the dispatcher at <paramref name="stubAddress"/>.
    /// </summary>
    /// <remarks>
    /// It runs at the entry of a patched function, where a caller built with gcc -fipa-ra may keep values in any register
    /// the function it calls leaves alone, so it changes only rflags (no compiler keeps flags across a call): arguments,
    /// rax (the vector count of a varargs call), r10, r11 and the stack reach the target untouched. The two registers it
    /// works with are kept meanwhile in the callee's red zone, the 16 bytes below the return address, which belong to the
    /// function being entered and are dead until it runs. A signal handler may run it again at any of its instructions:
    /// the kernel puts a signal frame below the red zone, and a nested run keeps its own copies below its own rsp.
    /// It reads the calling thread's pointer from <c>%fs:0</c>, which glibc keeps equal to fs_base.
    /// Precondition: the table at <paramref name="threadTable"/> always holds at least one empty entry;
    /// the probe stops only at the thread's key or at an empty entry, and has no count of its own.
    /// </remarks>
    /// <param name="stubAddress">Where the stub goes: a slot's address plus <see cref="SlotLayout.DispatcherOffset"/>.</param>
    /// <param name="threadTable">The thread table's address in the target.</param>
    /// <param name="oldTarget">Where a thread in the old universe goes: the slot's relocated copy of the original code.</param>
    /// <param name="newTarget">Where a thread in the new universe goes: the replacement function.</param>
    public static byte[] Build(ulong stubAddress, ulong threadTable, ulong oldTarget, ulong newTarget)
    {
        CheckPlacement(stubAddress, SlotLayout.DispatcherCapacity, "a dispatcher", nameof(stubAddress));
        CheckPlacement(threadTable, ThreadTableLayout.Size, "a thread table", nameof(threadTable));

        byte[] stub = new byte[SlotLayout.DispatcherCapacity];
        stub.AsSpan().Fill(Int3);
        Assemble(stubAddress).Code.CopyTo(stub.AsSpan(0, MultiplierOffset));
        Span<byte> words = stub.AsSpan(MultiplierOffset);
        ulong entriesStart = threadTable + ThreadTableLayout.HeaderSize;
        ulong[] values = [ThreadTableLayout.HashMultiplier, threadTable, entriesStart, threadTable + ThreadTableLayout.RangesOffset, oldTarget, newTarget];
        for (int index = 0; index < values.Length; index++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(words[(index * WordSize)..], values[index]);
        }

        return stub;
    }

    private static void CheckPlacement(ulong address, int size, string what, string parameterName)
    {
        // Aligned, so that every word the stub reads (and Graft writes) is one atomic access.
        if (address % WordSize != 0 || address > ulong.MaxValue - (ulong)size + 1)
        {
            throw new ArgumentException($"{what} needs {size} bytes at an 8-byte aligned address; 0x{address:x} is not one", parameterName);
        }
    }

    private static (byte[] Code, int SelfSwitchFrom) Assemble(ulong stubAddress)
    {
        var assembler = new Assembler(64);
        Label probe = assembler.CreateLabel();
        Label known = assembler.CreateLabel();
        Label readEntry = assembler.CreateLabel();
        Label absent = assembler.CreateLabel();
        Label toNew = assembler.CreateLabel();
        Label decided = assembler.CreateLabel();
        Label selfSwitch = assembler.CreateLabel();

        assembler.mov(__qword_ptr[rsp + SavedR10Offset], r10);
        assembler.mov(__qword_ptr[rsp + SavedR11Offset], r11);
        assembler.mov(r11, __qword_ptr.fs[0]);
        assembler.mov(r10, r11);

        // imul's low 64 bits are the unsigned product's, which is all ThreadTableLayout.HomeIndex keeps.
        assembler.AddInstruction(WithWord(Code.Imul_r64_rm64, stubAddress + MultiplierOffset));
        assembler.shr(r10, ThreadTableLayout.HashShift);
        assembler.shl(r10, (byte)BitOperations.Log2(ThreadTableLayout.EntrySize));
        assembler.AddInstruction(WithWord(Code.Add_r64_rm64, stubAddress + EntriesStartOffset));

        // Ends at the thread's key or at an empty entry; the table always has one (see the precondition on Build).
        assembler.Label(ref probe);
        assembler.cmp(__qword_ptr[r10 + ThreadTableLayout.EntryKeyOffset], r11);
        assembler.je(known);
        assembler.cmp(__qword_ptr[r10 + ThreadTableLayout.EntryKeyOffset], 0);
        assembler.je(absent);
        assembler.add(r10, ThreadTableLayout.EntrySize);
        assembler.AddInstruction(WithWord(Code.Cmp_r64_rm64, stubAddress + EntriesEndOffset));
        assembler.jb(probe);
        assembler.AddInstruction(WithWord(Code.Mov_r64_rm64, stubAddress + EntriesStartOffset));
        assembler.jmp(probe);

        // A known thread not yet in the goal universe, while threads may switch themselves, looks at its stack first.
        assembler.Label(ref known);
        assembler.AddInstruction(WithWord(Code.Mov_r64_rm64, stubAddress + TableHeaderOffset, Register.R11));
        assembler.movzx(r11d, __byte_ptr[r11 + ThreadTableLayout.SelfSwitchOffset]);
        assembler.test(r11d, r11d);
        assembler.jz(readEntry);
        assembler.dec(r11d);
        assembler.cmp(__byte_ptr[r10 + ThreadTableLayout.EntryUniverseOffset], r11b);
        assembler.jne(selfSwitch);
        assembler.Label(ref readEntry);
        assembler.test(__byte_ptr[r10 + ThreadTableLayout.EntryUniverseOffset], ThreadTableLayout.NewUniverse);
        assembler.jmp(decided);

        assembler.Label(ref absent);
        assembler.AddInstruction(WithWord(Code.Mov_r64_rm64, stubAddress + TableHeaderOffset));
        assembler.test(__byte_ptr[r10 + ThreadTableLayout.DefaultUniverseOffset], ThreadTableLayout.NewUniverse);

        // The universe is in ZF from here on: mov leaves the flags alone while the two registers get their values back.
        assembler.Label(ref decided);
        assembler.mov(r10, __qword_ptr[rsp + SavedR10Offset]);
        assembler.mov(r11, __qword_ptr[rsp + SavedR11Offset]);
        assembler.jnz(toNew);
        assembler.AddInstruction(JumpThroughWord(stubAddress + OldTargetOffset));

        assembler.Label(ref toNew);
        assembler.AddInstruction(JumpThroughWord(stubAddress + NewTargetOffset));

        assembler.Label(ref selfSwitch);
        SelfSwitchCode.Emit(assembler, stubAddress + TableHeaderOffset, readEntry);

        var writer = new ByteListWriter();
        var result = assembler.Assemble(writer, stubAddress, BlockEncoderOptions.ReturnNewInstructionOffsets);
        return (writer.ToArray(), (int)(result.GetLabelRIP(selfSwitch) - stubAddress));
    }

    // Iced's assembler has no RIP-relative operand for a fixed address; a MemoryOperand based on RIP holds the absolute
    // address, and the block encoder turns it into a displacement from the instruction's end.
    private static Instruction WithWord(Code code, ulong wordAddress, Register register = Register.R10)
    {
        return Instruction.Create(code, register, new MemoryOperand(Register.RIP, (long)wordAddress));
    }

    private static Instruction JumpThroughWord(ulong wordAddress)
    {
        return Instruction.Create(Code.Jmp_rm64, new MemoryOperand(Register.RIP, (long)wordAddress));
    }
}
