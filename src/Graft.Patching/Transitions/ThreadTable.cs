using Graft.Linux.Tracing;
using Graft.X86;

namespace Graft.Patching.Transitions;

/// <summary>
/// The per-thread table of a transition, in the target's memory (<see cref="ThreadTableLayout"/>):
/// each thread's universe, keyed by its thread pointer (fs_base). Graft writes it from outside
/// while the threads run and read it in the slots' dispatchers. A thread whose entry has its
/// stack bounds may also write its own universe, when self-switching is on (<see cref="AllowSelfSwitch"/>):
/// what Graft holds of a universe is then as of its last <see cref="Refresh"/>.
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

    // As of the last read: each known thread's proposal byte, and whether its calls count still equals the proposal's.
    private readonly Dictionary<ulong, (byte Proposal, bool Holds)> proposalOf = [];

    private ThreadTable(IMemory memory, ulong address)
    {
        this.memory = memory;
        this.address = address;

        // Written once, as the table is created, and never again during its transition.
        Unknown = (Universe)(memory.Read(address, 1)[0] & 1);
    }

    public int Count => indexOf.Count;

    /// <summary>Entries a refresh found changed: Graft writes its own changes into what it holds, so these are the threads' own.</summary>
    public int SelfSwitched { get; private set; }

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
        table.ReadEntries(fromKeys: true);
        return table;
    }

    /// <summary>
    /// Reads again the universe of every thread the table knows, which a thread may have
    /// switched itself. Pairs with the dispatcher's one-byte store: a thread that switched
    /// before this read shows here; one that switches after, at the next.
    /// </summary>
    public void Refresh() => ReadEntries(fromKeys: false);

    private void ReadEntries(bool fromKeys)
    {
        var bytes = memory.Read(address + ThreadTableLayout.EntryOffset(0), ThreadTableLayout.Capacity * ThreadTableLayout.EntrySize);
        for (var index = 0; index < ThreadTableLayout.Capacity; index++)
        {
            var entry = bytes.AsSpan(index * ThreadTableLayout.EntrySize, ThreadTableLayout.EntrySize);
            var key = BitConverter.ToUInt64(entry);
            if (key != 0 && (fromKeys || indexOf.ContainsKey(key)))
            {
                var universe = (Universe)(entry[ThreadTableLayout.EntryUniverseOffset] & 1);
                if (!fromKeys && universeOf[key] != universe)
                {
                    SelfSwitched++;
                }

                indexOf[key] = index;
                universeOf[key] = universe;
                proposalOf[key] = (entry[ThreadTableLayout.EntryProposalOffset],
                    BitConverter.ToUInt32(entry[ThreadTableLayout.EntryCallsOffset..]) == BitConverter.ToUInt32(entry[ThreadTableLayout.EntryProposalCallsOffset..]));
            }
        }
    }

    /// <summary>
    /// Lets threads with stack bounds switch themselves to <paramref name="goal"/>, away from
    /// <paramref name="blocked"/> code (<see cref="ThreadTableLayout.EncodeRanges"/>). The
    /// ranges are written first, and only while self-switching is off (<see cref="ForbidSelfSwitch"/>):
    /// no dispatcher reads them then.
    /// </summary>
    /// <param name="scan">Whether dispatchers may scan their stacks too, or take only Graft's proposals.</param>
    public void AllowSelfSwitch(Universe goal, IEnumerable<(ulong Start, ulong End)> blocked, bool scan)
    {
        Precondition.Require(SelfSwitchGoal is null, "self-switching is on already");
        memory.Write(address + ThreadTableLayout.RangesOffset, ThreadTableLayout.EncodeRanges(blocked));
        memory.Write(address + ThreadTableLayout.ScanOffset, [scan ? (byte)1 : (byte)0]);
        memory.Write(address + ThreadTableLayout.SelfSwitchOffset, [(byte)((byte)goal + 1)]);
    }

    /// <summary>No dispatcher starts another scan: one that has passed the check may still make its system call.</summary>
    public void ForbidScans() => memory.Write(address + ThreadTableLayout.ScanOffset, [0]);

    /// <summary>Whether dispatchers may scan their stacks, rather than take only Graft's proposals (<see cref="AllowSelfSwitch"/>).</summary>
    public bool ScansAllowed => memory.Read(address + ThreadTableLayout.ScanOffset, 1)[0] != 0;

    /// <summary>The calls of patched functions the thread has made outside the goal, as its dispatcher counts them.</summary>
    public uint CallsOf(ulong threadPointer) =>
        memory.ReadUInt32(address + ThreadTableLayout.EntryOffset(indexOf[threadPointer]) + ThreadTableLayout.EntryCallsOffset);

    /// <summary>Whether Graft's last proposal to the thread is still there, taken or not.</summary>
    public bool HasProposal(ulong threadPointer) => proposalOf.TryGetValue(threadPointer, out var proposal) && proposal.Proposal != 0;

    /// <summary>
    /// As of the last read: a proposal towards <paramref name="goal"/> that the thread has not made void. Such a thread
    /// has called no patched function since Graft found its stack clean, so it is as good as switched: it takes the goal
    /// at its next call, or, once the entries jump to their final code, runs that code with nothing of the old on its stack.
    /// </summary>
    public bool ProposalHolds(ulong threadPointer, Universe goal) =>
        proposalOf.TryGetValue(threadPointer, out var proposal) && proposal.Proposal == (byte)goal + 1 && proposal.Holds;

    /// <summary>
    /// Proposes <paramref name="goal"/> to a thread whose stack Graft found clean while it slept with
    /// <paramref name="calls"/> calls counted. The count before the byte that makes it a proposal: x86 keeps the two
    /// stores in order, so a dispatcher that sees the byte sees the count. Only where no proposal is (the thread clears
    /// one it finds void), so the count a dispatcher compares is never half-written.
    /// </summary>
    public void Propose(ulong threadPointer, Universe goal, uint calls)
    {
        Precondition.Require(!HasProposal(threadPointer), $"thread 0x{threadPointer:x} has a proposal already");
        var entry = address + ThreadTableLayout.EntryOffset(indexOf[threadPointer]);
        memory.Write(entry + ThreadTableLayout.EntryProposalCallsOffset, BitConverter.GetBytes(calls));
        memory.Write(entry + ThreadTableLayout.EntryProposalOffset, [(byte)((byte)goal + 1)]);
        proposalOf[threadPointer] = ((byte)((byte)goal + 1), true);
    }

    /// <summary>
    /// Takes back every proposal, before the goal changes: one made towards the old goal would otherwise hold again if
    /// the goal came back, after calls its dispatcher did not count (it counts only outside the goal). Only while no
    /// dispatcher looks at proposals (<see cref="ForbidSelfSwitch"/>, then no thread inside one).
    /// </summary>
    public void ClearProposals()
    {
        foreach (var (threadPointer, index) in indexOf)
        {
            if (HasProposal(threadPointer))
            {
                Withdraw(threadPointer, index);
            }
        }
    }

    private void Withdraw(ulong threadPointer, int index)
    {
        memory.Write(address + ThreadTableLayout.EntryOffset(index) + ThreadTableLayout.EntryProposalOffset, [0]);
        proposalOf[threadPointer] = (0, false);
    }

    /// <summary>
    /// No thread starts a self-switch from here on. One already inside its dispatcher may still
    /// store the goal it read: the caller waits until no thread is inside one before it relies
    /// on the table or changes the goal (the kernel's klp_synchronize_transition in
    /// klp_reverse_transition).
    /// </summary>
    /// <summary>The universe threads switch themselves to, or null while they do not.</summary>
    public Universe? SelfSwitchGoal => memory.Read(address + ThreadTableLayout.SelfSwitchOffset, 1)[0] is var goal and not 0
        ? (Universe)(goal - 1)
        : null;

    public void ForbidSelfSwitch() => memory.Write(address + ThreadTableLayout.SelfSwitchOffset, [0]);

    /// <summary>
    /// The universe of threads the table does not know: every thread that has not switched yet
    /// (a transition begins with an empty table), and threads created while no graft was
    /// attached, whose stacks start empty, so that either universe is safe for them.
    /// </summary>
    public Universe Unknown { get; }

    public Universe UniverseOf(ulong threadPointer) =>
        universeOf.TryGetValue(threadPointer, out var universe) ? universe : Unknown;

    public bool Knows(ulong threadPointer) => indexOf.ContainsKey(threadPointer);

    public void Set(ulong threadPointer, Universe universe)
    {
        if (!indexOf.TryGetValue(threadPointer, out var index))
        {
            index = Insert(threadPointer, universe, null);
        }
        else
        {
            // One byte: a dispatcher reads either the old or the new universe, nothing between.
            memory.Write(address + ThreadTableLayout.EntryOffset(index) + ThreadTableLayout.EntryUniverseOffset, [(byte)universe]);
        }

        universeOf[threadPointer] = universe;
    }

    /// <summary>
    /// A thread just created, which has not run yet, in <paramref name="universe"/>. glibc gives a
    /// new thread the stack and thread pointer of one that ended, whose entry lives on: a proposal
    /// made for that thread's stack is taken back, or it would count the newborn as switched.
    /// </summary>
    public void SetNewborn(ulong threadPointer, Universe universe)
    {
        Set(threadPointer, universe);
        if (HasProposal(threadPointer))
        {
            Withdraw(threadPointer, indexOf[threadPointer]);
        }
    }

    /// <summary>
    /// A thread the table does not know yet, in <paramref name="universe"/>, with its stack's
    /// bounds when known: only such a thread switches itself.
    /// </summary>
    public void Add(ulong threadPointer, Universe universe, (ulong Low, ulong High)? stack)
    {
        Precondition.Require(!indexOf.ContainsKey(threadPointer), $"thread 0x{threadPointer:x} has an entry already");
        Insert(threadPointer, universe, stack);
        universeOf[threadPointer] = universe;
    }

    private int Insert(ulong threadPointer, Universe universe, (ulong Low, ulong High)? stack)
    {
        if (indexOf.Count >= MaxThreads)
        {
            throw new GraftException(GraftFailure.Refused,
                $"the process has more than {MaxThreads} threads, the most a per-thread transition can track; use --consistency stop-world");
        }

        var used = new HashSet<int>(indexOf.Values);
        var index = ThreadTableLayout.ProbeSequence(threadPointer).First(i => !used.Contains(i));
        var entry = address + ThreadTableLayout.EntryOffset(index);

        // The rest before the key, which publishes the entry: x86 makes stores visible in
        // order, so a dispatcher that finds the key finds its universe and bounds too. The 8-byte key may
        // land in pieces (the kernel copies with rep movsb): a partly written key is some of
        // its bytes over zeros, which is no other thread's pointer (thread pointers are far
        // apart and share their low bits), so a dispatcher that sees it just probes on.
        var rest = new byte[ThreadTableLayout.EntrySize - ThreadTableLayout.EntryUniverseOffset];
        rest[0] = (byte)universe;
        if (stack is { } bounds)
        {
            BitConverter.TryWriteBytes(rest.AsSpan(ThreadTableLayout.EntryStackLowOffset - ThreadTableLayout.EntryUniverseOffset), bounds.Low);
            BitConverter.TryWriteBytes(rest.AsSpan(ThreadTableLayout.EntryStackHighOffset - ThreadTableLayout.EntryUniverseOffset), bounds.High);
        }

        memory.Write(entry + ThreadTableLayout.EntryUniverseOffset, rest);
        memory.WriteUInt64(entry, threadPointer);
        indexOf[threadPointer] = index;
        return index;
    }
}
