using System.Diagnostics;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;
using Graft.Patching.Target;

namespace Graft.Patching.Redirect;

/// <summary>
/// Rewrites function entries while every thread keeps running, with the kernel's int3 protocol
/// (text_poke_bp_batch): int3 on the first byte, sync cores, the other bytes, sync,
/// the first byte, sync. Graft is the int3 handler (<see cref="Linux.Tracing.Tracee.HandleTrapsAt"/>),
/// and "sync cores" is membarrier(PRIVATE_EXPEDITED_SYNC_CORE) run by a thread of the target.
/// </summary>
internal sealed class CodeWriter(TargetProcess target)
{
    private const byte Int3 = 0xCC;

    /// <summary>How long a thread may hold an unreadable stack with a word in a window before the write is given up (a thread leaves slot code in microseconds).</summary>
    private static readonly TimeSpan UnsureBound = TimeSpan.FromSeconds(2);

    /// <summary>How many threads were found inside bytes being rewritten and moved to the copy in their slot.</summary>
    public int ThreadsMoved { get; private set; }

    /// <summary>When the last <see cref="Write"/> put its first int3 in place (a Stopwatch timestamp): from then on a thread may take a new entry.</summary>
    public long FirstInt3WrittenAt { get; private set; }

    /// <summary>membarrier's SYNC_CORE needs the process registered first; registering again is harmless.</summary>
    public void Prepare() => Membarrier(Syscalls.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE);

    public void Write(IReadOnlyList<CodeEdit> edits)
    {
        if (edits.Count == 0)
        {
            return;
        }

        target.AwaitUntracedVforkChildren(UnsureBound);

        // From the first int3 on, a thread that calls one of these functions waits for graft.
        using var urgent = Urgency.Raise(target.Agent is { } agent ? [Urgency.Caller, agent] : [Urgency.Caller]);
        var memory = target.Memory;
        var firstBytes = edits.Select(e => memory.Read(e.Address, 1)[0]).ToArray();
        var tailWritten = new bool[edits.Count];
        FirstInt3WrittenAt = Stopwatch.GetTimestamp();
        try
        {
            foreach (var edit in edits)
            {
                target.HandleTrapsAt(edit.Address, edit.ContinueAt);
                memory.Write(edit.Address, [Int3]);
            }

            SyncCores();

            // From here no thread can enter bytes 1..4 except through byte 0 (branches into them are
            // refused when the patch is resolved); a thread already between them is moved out.
            if (edits.Any(e => e.MovedInstructions is not null))
            {
                MoveThreadsOutOf(edits.Where(e => e.MovedInstructions is not null).ToList());
            }

            for (var index = 0; index < edits.Count; index++)
            {
                memory.Write(edits[index].Address + 1, edits[index].Bytes.AsSpan(1));
                tailWritten[index] = true;
            }

            SyncCores();
            foreach (var edit in edits)
            {
                memory.Write(edit.Address, edit.Bytes.AsSpan(0, 1));
            }

            SyncCores();
        }
        catch when (!target.HasDied)
        {
            Settle(edits, firstBytes, tailWritten);
            throw;
        }
    }

    /// <summary>
    /// A write that failed half-way (a membarrier refused, a thread that could not be moved) must
    /// not leave an int3 that no one will handle once graft has gone, nor the first byte of one
    /// instruction before the tail of another: an entry whose new tail is written gets its new
    /// first byte too (every thread was moved out of it), any other its old first byte back.
    /// </summary>
    private void Settle(IReadOnlyList<CodeEdit> edits, byte[] firstBytes, bool[] tailWritten)
    {
        for (var index = 0; index < edits.Count; index++)
        {
            target.Memory.Write(edits[index].Address, tailWritten[index] ? edits[index].Bytes.AsSpan(0, 1) : [firstBytes[index]]);
        }

        try
        {
            SyncCores();
        }
        catch (Exception e) when (e is GraftException or Linux.Tracing.InjectionException)
        {
            // Best effort: the bytes are whole; without the sync a core may run the old ones a little longer.
        }
    }

    /// <summary>
    /// Checks threads one at a time; one inside a rewritten window goes on from the same
    /// instruction's copy in the slot. So does one that a signal interrupted there: its
    /// handler returns to the pc its signal frame keeps, which is moved too. A thread whose
    /// stack cannot be unwound to its end (a handler that trapped into a dispatcher: slot code
    /// has no unwind information) may keep such a pc below the frames read; if any word of its
    /// stack lies in a window, it is let run and looked at again, within <see cref="UnsureBound"/>.
    /// </summary>
    private void MoveThreadsOutOf(IReadOnlyList<CodeEdit> edits)
    {
        var deadline = Deadline.After(UnsureBound);
        var unsure = target.ThreadIds.ToList().Where(tid => !TryMoveOutOf(edits, tid)).ToList();
        while (unsure.Count > 0)
        {
            if (deadline.HasPassed)
            {
                throw new GraftException(GraftFailure.Timeout,
                    $"thread {unsure[0]} kept a word pointing into a function entry being rewritten on a stack graft cannot unwind to its end, for {UnsureBound.TotalSeconds} s");
            }

            // Byte 0 of every window is an int3 already: a thread can leave a window, never enter one.
            target.Pump(TimeSpan.FromMilliseconds(1));
            unsure = unsure.Where(tid => !TryMoveOutOf(edits, tid)).ToList();
        }
    }

    /// <summary>False while the thread may still hold a pc inside a window that graft could not find.</summary>
    private bool TryMoveOutOf(IReadOnlyList<CodeEdit> edits, int tid)
    {
        // A thread asleep in a system call outside every window is looked at without a stop:
        // byte 0 of each is an int3 already, so it cannot enter one later.
        if (target.StackIfAsleep(tid) is { } asleep && !asleep.Frames.Any(f => f.IsExact && Inside(edits, f.Pc) is not null))
        {
            return true;
        }

        using var stopped = target.TryStop(tid, StopPurposes.CodeWrite);
        if (stopped is null)
        {
            return true;
        }

        var regs = target.Registers(tid);
        var stack = target.Stack(tid, AsUnwindable(edits, regs));
        if (Inside(edits, regs.rip) is { } edit)
        {
            regs.rip = CopyOf(edit, regs.rip, tid);
            target.SetRegisters(tid, regs);
            ThreadsMoved++;
        }

        foreach (var frame in stack.Frames.Skip(1).Where(f => f.IsExact && f.PcSavedAt is not null))
        {
            if (Inside(edits, frame.Pc) is { } interrupted)
            {
                target.Memory.WriteUInt64(frame.PcSavedAt!.Value, CopyOf(interrupted, frame.Pc, tid));
                ThreadsMoved++;
            }
        }

        return stack.IsReliable || !target.StackHoldsAny(regs.rsp, word => Inside(edits, word) is not null);
    }

    /// <summary>
    /// The registers to unwind a thread from. One at an edit's <see cref="CodeEdit.ContinueAt"/> has taken that edit's
    /// int3 (or the jump already there) and run nothing since: it stands where a call of the function arrives, as it
    /// would at the edit's address, whose unwind rules hold for it; slot code has none. Without this, a thread whose
    /// signal handlers call a patched function back to back is found there at every look (each int3 it takes leaves
    /// it at that spot, and the look lets it take a pending one first), and the pc its signal frame keeps in a window
    /// is never found: under load such a thread held an apply for the whole <see cref="UnsureBound"/>.
    /// </summary>
    private static UserRegs AsUnwindable(IReadOnlyList<CodeEdit> edits, UserRegs regs) =>
        edits.FirstOrDefault(e => e.ContinueAt == regs.rip) is { } taken ? regs with { rip = taken.Address } : regs;

    /// <summary>The edit whose bytes after the first hold <paramref name="pc"/>, if any.</summary>
    private static CodeEdit? Inside(IReadOnlyList<CodeEdit> edits, ulong pc) =>
        edits.FirstOrDefault(e => pc > e.Address && pc < e.Address + (ulong)e.Bytes.Length);

    private static ulong CopyOf(CodeEdit edit, ulong pc, int tid) => edit.MovedInstructions!.TryGetValue(pc, out var copy)
        ? copy
        : throw new GraftException(GraftFailure.Internal, $"thread {tid} is at 0x{pc:x}, inside an instruction at a function entry");

    private void SyncCores() => Membarrier(Syscalls.MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE);

    /// <summary>Runs membarrier on Graft's agent, or else on whichever thread of the program stops first, and resumes it.</summary>
    private void Membarrier(ulong command)
    {
        var threads = target.Agent is { } agent ? [agent, .. target.ThreadIds.Where(t => t != agent)] : target.ThreadIds.ToList();
        foreach (var tid in threads)
        {
            using var stopped = target.TryStop(tid, StopPurposes.CodeWrite);
            if (stopped is not null)
            {
                target.Syscalls.Membarrier(tid, command);
                return;
            }
        }

        throw new Linux.Tracing.TargetGoneException($"process {target.Pid} has no thread left");
    }
}
