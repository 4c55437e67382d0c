using Graft.Linux.Interop;
using Graft.Patching.Target;

namespace Graft.Patching.Transition;

/// <summary>
/// Rewrites function entries while every thread keeps running, with the kernel's int3 protocol
/// (seeds/004, text_poke_bp_batch): int3 on the first byte, sync cores, the other bytes, sync,
/// the first byte, sync. Graft is the int3 handler (<see cref="Linux.Tracing.Tracee.HandleTrapsAt"/>),
/// and "sync cores" is membarrier(PRIVATE_EXPEDITED_SYNC_CORE) run by a thread of the target.
/// </summary>
internal sealed class CodeWriter(TargetProcess target)
{
    private const byte Int3 = 0xCC;

    /// <summary>How many threads were found inside bytes being rewritten and moved to the copy in their slot.</summary>
    public int ThreadsMoved { get; private set; }

    /// <summary>membarrier's SYNC_CORE needs the process registered first; registering again is harmless.</summary>
    public void Prepare() => Membarrier(Syscalls.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE);

    public void Write(IReadOnlyList<CodeEdit> edits)
    {
        if (edits.Count == 0)
        {
            return;
        }

        var memory = target.Tracee.Memory;
        foreach (var edit in edits)
        {
            target.Tracee.HandleTrapsAt(edit.Address, edit.ContinueAt);
            memory.Write(edit.Address, [Int3]);
        }

        SyncCores();

        // From here no thread can enter bytes 1..4 except through byte 0 (branches into them are
        // refused when the patch is resolved); a thread already between them is moved out.
        if (edits.Any(e => e.MovedInstructions is not null))
        {
            MoveThreadsOutOf(edits.Where(e => e.MovedInstructions is not null).ToList());
        }

        foreach (var edit in edits)
        {
            memory.Write(edit.Address + 1, edit.Bytes.AsSpan(1));
        }

        SyncCores();
        foreach (var edit in edits)
        {
            memory.Write(edit.Address, edit.Bytes.AsSpan(0, 1));
        }

        SyncCores();
    }

    /// <summary>Checks threads one at a time; one inside a rewritten window goes on from the same instruction's copy.</summary>
    private void MoveThreadsOutOf(IReadOnlyList<CodeEdit> edits)
    {
        foreach (var tid in target.Tracee.ThreadIds.ToList())
        {
            if (!target.Tracee.Stop(tid))
            {
                continue;
            }

            try
            {
                var regs = target.Tracee.GetRegisters(tid);
                var edit = edits.FirstOrDefault(e => regs.rip > e.Address && regs.rip < e.Address + (ulong)e.Bytes.Length);
                if (edit is not null)
                {
                    regs.rip = edit.MovedInstructions!.TryGetValue(regs.rip, out var copy)
                        ? copy
                        : throw new GraftException(GraftFailure.Internal, $"thread {tid} stopped at 0x{regs.rip:x}, inside an instruction at a function entry");
                    target.Tracee.SetRegisters(tid, regs);
                    ThreadsMoved++;
                }
            }
            finally
            {
                target.Tracee.Resume(tid);
            }
        }
    }

    private void SyncCores() => Membarrier(Syscalls.MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE);

    /// <summary>Runs membarrier on whichever thread stops first, and resumes it.</summary>
    private void Membarrier(ulong command)
    {
        foreach (var tid in target.Tracee.ThreadIds.ToList())
        {
            if (!target.Tracee.Stop(tid))
            {
                continue;
            }

            try
            {
                var result = target.Tracee.InjectSyscall(tid, Syscalls.SYS_membarrier, command, 0, 0);
                if (Syscalls.Failed(result))
                {
                    throw new GraftException(GraftFailure.Internal, $"membarrier({command}) inside process {target.Pid} failed with errno {-result}");
                }

                return;
            }
            finally
            {
                target.Tracee.Resume(tid);
            }
        }

        throw new Linux.Tracing.TargetGoneException($"process {target.Pid} has no thread left");
    }
}
