using System.Buffers.Binary;

using Iced.Intel;

using static Iced.Intel.AssemblerRegisters;

namespace Graft.X86.Tests.Native;

/// <summary>
/// A dispatcher running in the test process: the stub, its thread table and two targets in mappings of their own,
/// plus a helper that reads the calling thread's pointer from <c>%fs:0</c> as the stub does.
/// </summary>
internal sealed unsafe class DispatcherRig : IDisposable
{
    // Room for a target that checks every register: about 24 bytes each.
    private const int OldTargetOffset = 0x000;
    private const int NewTargetOffset = 0x400;
    private const int ThreadPointerOffset = 0x800;
    private const int CallerOffset = 0x900;
    private const int StubOffset = 0xc00 + SlotLayout.DispatcherOffset;
    private const int CodeLength = 0x1000;
    private const int StackLength = 0x10000;

    private readonly MappedMemory _code = new(CodeLength);
    private readonly MappedMemory _table = new(ThreadTableLayout.Size);
    private readonly MappedMemory _stack = new(StackLength);

    /// <param name="caller">Optional code that calls the stub, given the stub's address.</param>
    /// <param name="callerOnOwnStack">
    /// Runs <paramref name="caller"/>, which then falls through at its end instead of returning, on <see cref="OwnStack"/>.
    /// </param>
    public DispatcherRig(Action<Assembler> oldTarget, Action<Assembler> newTarget, Action<Assembler, ulong>? caller = null, bool callerOnOwnStack = false)
    {
        Place(OldTargetOffset, oldTarget);
        Place(NewTargetOffset, newTarget);
        Place(ThreadPointerOffset, assembler =>
        {
            assembler.mov(rax, __qword_ptr.fs[0]);
            assembler.ret();
        });
        if (caller is not null)
        {
            Place(CallerOffset, assembler =>
            {
                if (callerOnOwnStack)
                {
                    CallOnOwnStack(assembler, OwnStack.High, inner => caller(inner, Stub));
                }
                else
                {
                    caller(assembler, Stub);
                }
            });
        }

        DispatcherCode.Build(Stub, _table.Address, _code.Address + OldTargetOffset, _code.Address + NewTargetOffset)
            .CopyTo(_code.Bytes[StubOffset..]);
        _code.MakeExecutable();
    }

    public ulong Stub => _code.Address + StubOffset;

    public ulong Caller => _code.Address + CallerOffset;

    /// <summary>
    /// A stack of the rig's own, zeroed, for a caller that runs on it: the self-switch scans every word above rsp, and the
    /// test's own stack holds values the test has worked with, in its frames and in the registers their prologues saved.
    /// </summary>
    public (ulong Low, ulong High) OwnStack => (_stack.Address, _stack.Address + StackLength);

    // Moves to the rig's stack, runs the call there and comes back: the only words above the stub's rsp are what the call
    // pushes. rsp starts 8 below a 16-byte boundary, as at any function's entry.
    private static void CallOnOwnStack(Assembler assembler, ulong stackHigh, Action<Assembler> call)
    {
        assembler.push(rbx);
        assembler.mov(rbx, rsp);
        assembler.mov(rsp, stackHigh - 8);
        call(assembler);
        assembler.mov(rsp, rbx);
        assembler.pop(rbx);
        assembler.ret();
    }

    /// <summary>The calling thread's pointer, which the stub looks up when called on the same thread.</summary>
    public ulong CurrentThreadPointer()
    {
        return ((delegate* unmanaged<ulong>)(_code.Address + ThreadPointerOffset))();
    }

    public void SetDefaultUniverse(byte universe)
    {
        _table.Bytes[ThreadTableLayout.DefaultUniverseOffset] = universe;
    }

    public void SetEntry(int index, ulong threadPointer, byte universe, (ulong Low, ulong High) stack = default)
    {
        Span<byte> entry = Entry(index);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[ThreadTableLayout.EntryKeyOffset..], threadPointer);
        entry[ThreadTableLayout.EntryUniverseOffset] = universe;
        BinaryPrimitives.WriteUInt64LittleEndian(entry[ThreadTableLayout.EntryStackLowOffset..], stack.Low);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[ThreadTableLayout.EntryStackHighOffset..], stack.High);
    }

    public byte UniverseAt(int index) => Entry(index)[ThreadTableLayout.EntryUniverseOffset];

    public uint LastCheckAt(int index) => BinaryPrimitives.ReadUInt32LittleEndian(Entry(index)[ThreadTableLayout.EntryLastCheckOffset..]);

    public void ClearLastCheck(int index) => BinaryPrimitives.WriteUInt32LittleEndian(Entry(index)[ThreadTableLayout.EntryLastCheckOffset..], 0);

    /// <summary>Lets known threads switch themselves to <paramref name="goal"/>, or not (null); with <paramref name="scan"/>, by scanning their stacks too.</summary>
    public void SetSelfSwitch(byte? goal, bool scan = true)
    {
        _table.Bytes[ThreadTableLayout.SelfSwitchOffset] = goal is { } universe ? (byte)(universe + 1) : (byte)0;
        _table.Bytes[ThreadTableLayout.ScanOffset] = scan ? (byte)1 : (byte)0;
    }

    /// <summary>Graft's proposal for the thread at <paramref name="index"/>: the goal, and its calls count as Graft saw it.</summary>
    public void Propose(int index, byte goal, uint calls)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(Entry(index)[ThreadTableLayout.EntryProposalCallsOffset..], calls);
        Entry(index)[ThreadTableLayout.EntryProposalOffset] = (byte)(goal + 1);
    }

    public byte ProposalAt(int index) => Entry(index)[ThreadTableLayout.EntryProposalOffset];

    public uint CallsAt(int index) => BinaryPrimitives.ReadUInt32LittleEndian(Entry(index)[ThreadTableLayout.EntryCallsOffset..]);

    public void SetRanges(params (ulong Start, ulong End)[] ranges)
    {
        ThreadTableLayout.EncodeRanges(ranges).CopyTo(_table.Bytes[ThreadTableLayout.RangesOffset..]);
    }

    private Span<byte> Entry(int index) => _table.Bytes.Slice((int)ThreadTableLayout.EntryOffset(index), ThreadTableLayout.EntrySize);

    public void Dispose()
    {
        _code.Dispose();
        _table.Dispose();
        _stack.Dispose();
    }

    private void Place(int offset, Action<Assembler> emit)
    {
        Assembled.At(_code.Address + (ulong)offset, emit).CopyTo(_code.Bytes[offset..]);
    }
}
