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

    private readonly MappedMemory _code = new(CodeLength);
    private readonly MappedMemory _table = new(ThreadTableLayout.Size);

    /// <param name="caller">Optional code that calls the stub, given the stub's address.</param>
    public DispatcherRig(Action<Assembler> oldTarget, Action<Assembler> newTarget, Action<Assembler, ulong>? caller = null)
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
            Place(CallerOffset, assembler => caller(assembler, Stub));
        }

        DispatcherCode.Build(Stub, _table.Address, _code.Address + OldTargetOffset, _code.Address + NewTargetOffset)
            .CopyTo(_code.Bytes[StubOffset..]);
        _code.MakeExecutable();
    }

    public ulong Stub => _code.Address + StubOffset;

    public ulong Caller => _code.Address + CallerOffset;

    /// <summary>The calling thread's pointer, which the stub looks up when called on the same thread.</summary>
    public ulong CurrentThreadPointer()
    {
        return ((delegate* unmanaged<ulong>)(_code.Address + ThreadPointerOffset))();
    }

    public void SetDefaultUniverse(byte universe)
    {
        _table.Bytes[ThreadTableLayout.DefaultUniverseOffset] = universe;
    }

    public void SetEntry(int index, ulong threadPointer, byte universe)
    {
        Span<byte> entry = _table.Bytes.Slice((int)ThreadTableLayout.EntryOffset(index), ThreadTableLayout.EntrySize);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[ThreadTableLayout.EntryKeyOffset..], threadPointer);
        entry[ThreadTableLayout.EntryUniverseOffset] = universe;
    }

    public void Dispose()
    {
        _code.Dispose();
        _table.Dispose();
    }

    private void Place(int offset, Action<Assembler> emit)
    {
        Assembled.At(_code.Address + (ulong)offset, emit).CopyTo(_code.Bytes[offset..]);
    }
}
