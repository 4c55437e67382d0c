using Graft.Linux.Tracing;
using Graft.X86;

namespace Graft.Patching.Transitions;

/// <summary>
/// The per-thread table of a transition, in the target's memory (<see cref="ThreadTableLayout"/>):
/// each thread's universe, keyed by its thread pointer (fs_base). Graft writes it from outside
/// while the threads run and read it in the slots' dispatchers.
/// </summary>
internal sealed class ThreadTable
{
    /// <summary>
    /// Linear probing stays short at this load, and empty entries always remain: an empty entry
    /// is what ends a dispatcher's search for a thread it does not know.
    /// </summary>
    public const int MaxThreads = ThreadTableLayout.Capacity * 3 / 4;

    private readonly IMemory memory;
    private readonly ulong address;
    private readonly Dictionary<ulong, int> indexOf = [];
    private readonly Dictionary<ulong, Universe> universeOf = [];

    private ThreadTable(IMemory memory, ulong address)
    {
        this.memory = memory;
        this.address = address;
    }

    public int Count => indexOf.Count;

    /// <summary>
    /// An empty table whose unknown threads are in <paramref name="unknown"/>. Only while no
    /// dispatcher is reachable: a thread inside one would read a table being cleared.
    /// </summary>
    public static ThreadTable Create(IMemory memory, ulong address, Universe unknown)
    {
        memory.Write(address, new byte[ThreadTableLayout.Size]);
        memory.Write(address, [(byte)unknown]);
        return new ThreadTable(memory, address);
    }

    /// <summary>The table a graft before this one left in the target.</summary>
    public static ThreadTable Load(IMemory memory, ulong address)
    {
        var table = new ThreadTable(memory, address);
        var bytes = memory.Read(address, ThreadTableLayout.Size);
        for (var index = 0; index < ThreadTableLayout.Capacity; index++)
        {
            var entry = bytes.AsSpan((int)ThreadTableLayout.EntryOffset(index), ThreadTableLayout.EntrySize);
            var key = BitConverter.ToUInt64(entry);
            if (key != 0)
            {
                table.indexOf[key] = index;
                table.universeOf[key] = (Universe)(entry[8] & 1);
            }
        }

        return table;
    }

    /// <summary>
    /// The universe of threads the table does not know: every thread that has not switched yet
    /// (a transition begins with an empty table), and threads created while no graft was
    /// attached, whose stacks start empty, so that either universe is safe for them.
    /// </summary>
    public Universe Unknown => (Universe)(memory.Read(address, 1)[0] & 1);

    public Universe UniverseOf(ulong threadPointer) =>
        universeOf.TryGetValue(threadPointer, out var universe) ? universe : Unknown;

    public bool Knows(ulong threadPointer) => indexOf.ContainsKey(threadPointer);

    public void Set(ulong threadPointer, Universe universe)
    {
        if (!indexOf.TryGetValue(threadPointer, out var index))
        {
            index = Insert(threadPointer, universe);
        }
        else
        {
            // One byte: a dispatcher reads either the old or the new universe, nothing between.
            memory.Write(address + ThreadTableLayout.EntryOffset(index) + 8, [(byte)universe]);
        }

        universeOf[threadPointer] = universe;
    }

    private int Insert(ulong threadPointer, Universe universe)
    {
        if (indexOf.Count >= MaxThreads)
        {
            throw new GraftException(GraftFailure.Refused,
                $"the process has more than {MaxThreads} threads, the most a per-thread transition can track; use --consistency stop-world");
        }

        var used = new HashSet<int>(indexOf.Values);
        var index = ThreadTableLayout.ProbeSequence(threadPointer).First(i => !used.Contains(i));
        var entry = address + ThreadTableLayout.EntryOffset(index);

        // The universe before the key, which publishes the entry: x86 makes stores visible in
        // order, so a dispatcher that finds the key finds its universe too. The 8-byte key may
        // land in pieces (the kernel copies with rep movsb): a partly written key is some of
        // its bytes over zeros, which is no other thread's pointer (thread pointers are far
        // apart and share their low bits), so a dispatcher that sees it just probes on.
        memory.Write(entry + 8, [(byte)universe]);
        memory.WriteUInt64(entry, threadPointer);
        indexOf[threadPointer] = index;
        return index;
    }
}
