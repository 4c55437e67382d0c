using System.Text;
using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;
using Graft.Model.State;

namespace Graft.Patching.Target;

/// <summary>
/// Reads and writes the state record inside the target (<see cref="StateLayout"/>). The mapping
/// is a private memfd mapping, so /proc/&lt;pid&gt;/maps names it and a forked child gets its own copy.
/// </summary>
/// <param name="findMapping">Where the state mapping starts in the target, 0 if it has none.</param>
internal sealed class StateStore(Func<ulong> findMapping, IMemory memory)
{
    private ulong generation;
    private int half;
    private ulong records;
    private ulong halfSize = StateLayout.HalfSize;

    /// <summary>The store of a live target, whose memory map names its mapping.</summary>
    public StateStore(ModuleMap modules, IMemory memory)
        : this(() => FindMapping(modules), memory)
    {
    }

    /// <summary>Start of the state mapping the memory map names, 0 if it names none.</summary>
    public static ulong FindMapping(ModuleMap modules) => modules.Mappings
        .FirstOrDefault(m => m.Path.StartsWith($"/memfd:{StateLayout.MappingName}", StringComparison.Ordinal))?.Start ?? 0;

    /// <summary>Start of the state mapping in the target, 0 while it has none.</summary>
    public ulong Address { get; private set; }

    /// <summary>This store created the mapping (the target had none before this operation).</summary>
    public bool CreatedMapping { get; private set; }

    public ulong Scratch => Address + StateLayout.ScratchOffset;

    /// <summary>Where injected calls return (<see cref="ReturnTrampoline"/>).</summary>
    public ulong Trampoline => Address + StateLayout.CodeOffset;

    public TargetState Read()
    {
        Address = findMapping();
        return ReadCurrent();
    }

    /// <summary>The record in the mapping already found or created, without looking at the memory map again.</summary>
    public TargetState ReadCurrent()
    {
        if (Address == 0)
        {
            records = 0;
            return TargetState.Empty;
        }

        var header = memory.Read(Address, StateLayout.HeaderSize);
        if (StateLayout.HasOlderMagic(header))
        {
            throw new StateFormatException($"its graft state was written by an older graft ({Encoding.ASCII.GetString(header[..8])}); revert its patches with that graft first");
        }

        if (StateLayout.HasRecordInMapping(header))
        {
            (records, halfSize) = (Address + StateLayout.Size, StateLayout.InMappingHalfSize);
        }
        else if (StateLayout.HasMagic(header))
        {
            (records, halfSize) = (StateLayout.ReadRecordRegion(header), StateLayout.HalfSize);
        }
        else
        {
            records = 0;
            return TargetState.Empty;
        }

        (var length, half, generation) = StateLayout.DecodeCommit(StateLayout.ReadCommit(header));
        return length == 0
            ? TargetState.Empty
            : StateLayout.Deserialize(memory.Read(records + ((ulong)half * halfSize), length));
    }

    /// <summary>Writes <paramref name="state"/> as the record (<see cref="Write(byte[])"/>).</summary>
    public void Write(TargetState state) => Write(StateLayout.Serialize(state));

    /// <summary>
    /// Writes a record (serialized beforehand with <see cref="StateLayout.Serialize"/>, outside
    /// any stop) to the idle half, then flips the commit word to it in one 8-byte write.
    /// </summary>
    public void Write(byte[] bytes)
    {
        if ((ulong)bytes.Length > halfSize)
        {
            throw new StateFormatException(
                $"graft's state record would grow to {bytes.Length} bytes, over the {halfSize}-byte limit of the state mapping an earlier graft made in this process (GRAFTST4): a process graft patches first gets records of any size");
        }

        var idle = 1 - half;
        memory.Write(records + ((ulong)idle * halfSize), bytes);
        memory.WriteUInt64(Address + StateLayout.CommitWordOffset, StateLayout.EncodeCommit(bytes.Length, idle, generation + 1));
        half = idle;
        generation++;
    }

    /// <summary>
    /// Creates the state mapping and its record region with syscalls run on a stopped thread,
    /// unless the target has them. A mapping without the magic (a graft died creating it) is
    /// completed rather than mapped again.
    /// </summary>
    public void EnsureMapped(TargetProcess target, int tid)
    {
        if (records != 0)
        {
            return;
        }

        if (Address == 0)
        {
            Address = MapState(target, tid);
        }

        records = target.Syscalls.Mmap(
            tid, 0, StateLayout.RecordRegionSize, Syscalls.PROT_NONE, Syscalls.MAP_PRIVATE | Syscalls.MAP_ANONYMOUS | Syscalls.MAP_NORESERVE, ulong.MaxValue, 0);

        // The magic last: a reader takes the header as whole only once it is there.
        memory.WriteUInt64(Address + StateLayout.RecordRegionOffset, records);
        memory.Write(Address, StateLayout.Magic);
        half = 1;
        generation = 0;
        CreatedMapping = true;
    }

    private static ulong MapState(TargetProcess target, int tid)
    {
        // The name goes on the thread's stack below its red zone: nothing lives there while it is stopped.
        var name = Encoding.ASCII.GetBytes(StateLayout.MappingName + "\0");
        var nameAddress = (target.Registers(tid).rsp - 512) & ~0xfUL;
        target.Memory.Write(nameAddress, name);
        var fd = target.Syscalls.MemfdCreate(tid, nameAddress, Syscalls.MFD_CLOEXEC);
        ulong address;
        try
        {
            target.Syscalls.Ftruncate(tid, fd, StateLayout.Size);
            address = target.Syscalls.Mmap(tid, 0, StateLayout.Size, Syscalls.PROT_READ | Syscalls.PROT_WRITE, Syscalls.MAP_PRIVATE, (ulong)fd, 0);
        }
        finally
        {
            target.Syscalls.Close(tid, fd);
        }

        var trampoline = address + StateLayout.CodeOffset;
        target.Syscalls.Mprotect(tid, trampoline, StateLayout.PageSize, Syscalls.PROT_READ | Syscalls.PROT_EXEC);
        target.Memory.Write(trampoline, ReturnTrampoline.Code);
        return address;
    }

    /// <summary>
    /// Takes away the mapping this operation created, once a rollback left it recording nothing:
    /// a refused apply leaves the target as it found it. The last call graft runs on the thread,
    /// since injected calls return through the mapping's trampoline.
    /// </summary>
    public void UnmapIfCreatedAndEmpty(TargetProcess target, int tid)
    {
        var state = ReadCurrent();
        if (!CreatedMapping || state.Patches.Count > 0 || state.SlotPages.Count > 0)
        {
            return;
        }

        target.Syscalls.Munmap(tid, records, StateLayout.RecordRegionSize);
        target.Syscalls.Munmap(tid, Address, StateLayout.Size);
        Address = 0;
        records = 0;
        CreatedMapping = false;
    }

}
