using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Graft as the int3 handler of the code it rewrites while threads run (Graft.Patching's
/// CodeWriter): a thread that hits an int3 Graft wrote is sent on as if the finished instruction
/// were already there.
/// </summary>
public sealed partial class Tracee
{
    private readonly Dictionary<ulong, ulong> trapSites = [];

    /// <summary>How many threads Graft has sent on from one of its int3s since the stop statistics were last reset.</summary>
    public int TrapsHandled { get; private set; }

    /// <summary>
    /// From now on, a thread that traps on an int3 at <paramref name="address"/> continues at
    /// <paramref name="continueAt"/>. Sites stay handled until Graft detaches: a trap taken just
    /// before the int3 was overwritten is reported later, and must still be served. Setting a
    /// site again changes where such a thread goes, which must then be a valid place to run the
    /// code at the site from.
    /// </summary>
    public void HandleTrapsAt(ulong address, ulong continueAt)
    {
        CheckOwner();
        trapSites[address] = continueAt;
    }

    /// <summary>
    /// A thread that executed one of Graft's int3s just before the interrupt that stopped it:
    /// the kernel takes the interrupt first, so the thread stops with rip one past the int3,
    /// inside the instruction being written, and its SIGTRAP still pending. Code Graft ran on it
    /// now would take that trap instead, and putting the thread back would leave it
    /// mid-instruction with the trap gone (the target died of it: PERFORMANCE.md, problem 3).
    /// So the trap is let through here: the thread is continued without a new interrupt, takes
    /// its pending SIGTRAP before running any instruction, and <see cref="TryHandleTrap"/> sends
    /// it on and keeps it stopped, since Graft wants it stopped. False if the thread exited.
    /// </summary>
    private bool SettlePendingTrap(TracedThread thread)
    {
        // A second interrupt (AwaitStop repeats it) may still come before the trap: go again.
        // The thread runs none of its own code before the trap: its stop goes on.
        thread.StopGoesOn = true;
        try
        {
            for (var attempt = 0; attempt < 3 && thread.IsStopped && !thread.Held && HasGraftTrapPending(thread); attempt++)
            {
                MarkResumed(thread);
                Restart(thread, ContinueRequest(thread), 0);
                if (!AwaitStop(thread))
                {
                    return false;
                }
            }
        }
        finally
        {
            thread.StopGoesOn = false;
        }

        return true;
    }

    /// <summary>Stopped one past an int3 of Graft's, with a SIGTRAP pending (SigPnd of /proc/&lt;pid&gt;/task/&lt;tid&gt;/status).</summary>
    private bool HasGraftTrapPending(TracedThread thread)
    {
        // Every Stop asks: without an int3 of Graft's in the process, no register read.
        if (!MayTrap)
        {
            return false;
        }

        var site = registers.Read(thread.Tid).rip - 1;
        if (!trapSites.ContainsKey(site) && !trapHandlers.ContainsKey(site))
        {
            return false;
        }

        return HasSigtrapPending(thread.Tid);
    }

    /// <summary>Any int3 of Graft's still in the process, or one a thread may have taken before it was overwritten.</summary>
    private bool MayTrap => trapSites.Count > 0 || trapHandlers.Count > 0;

    /// <summary>A SIGTRAP queued for the thread itself (SigPnd of /proc/&lt;pid&gt;/task/&lt;tid&gt;/status): an int3 it executed.</summary>
    private bool HasSigtrapPending(int tid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{Pid}/task/{tid}/status").FirstOrDefault(l => l.StartsWith("SigPnd:", StringComparison.Ordinal));
            return line is not null
                && ulong.TryParse(line["SigPnd:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber, null, out var pending)
                && (pending & (1UL << (Signals.SIGTRAP - 1))) != 0;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>True if the stop was a trap on one of Graft's int3s, now handled: the thread sent on, or kept by a policy's handler.</summary>
    private bool TryHandleTrap(TracedThread thread, WaitStatus status)
    {
        if (!MayTrap || !status.IsSignalDeliveryStop || status.StopSignal != Signals.SIGTRAP)
        {
            return false;
        }

        // An int3 leaves rip after itself; the kernel raises its SIGTRAP with SI_KERNEL, which a
        // SIGTRAP sent with kill() or raise() cannot have.
        var regs = registers.Read(thread.Tid);
        if (SignalCode(thread.Tid) != Ptrace.SI_KERNEL)
        {
            return false;
        }

        if (trapHandlers.TryGetValue(regs.rip - 1, out var handler))
        {
            var stop = new ThreadStop(this, thread, regs);
            handler.Trapped(stop);
            if (!stop.IsKept)
            {
                Restart(thread, ContinueRequest(thread), 0);
            }

            return true;
        }

        if (!trapSites.TryGetValue(regs.rip - 1, out var continueAt))
        {
            return false;
        }

        regs.rip = continueAt;
        registers.Write(thread.Tid, regs);
        TrapsHandled++;
        if (thread.WantStopped)
        {
            // Graft is stopping this thread: it stops here, its SIGTRAP suppressed when it resumes.
            MarkStopped(thread);
        }
        else
        {
            Restart(thread, ContinueRequest(thread), 0);
        }

        return true;
    }

    /// <summary>
    /// A trap on a policy's int3 inside code Graft runs (the dlopen of a patch, a callback that
    /// loads a library): not a fault, and not a stop to keep, since the calling thread is Graft's
    /// to finish. The handler says where the code goes on.
    /// </summary>
    private bool TryStepOverTrap(TracedThread thread, WaitStatus status, int request)
    {
        if (trapHandlers.Count == 0 || !status.IsSignalDeliveryStop || status.StopSignal != Signals.SIGTRAP)
        {
            return false;
        }

        var regs = registers.Read(thread.Tid);
        if (!trapHandlers.TryGetValue(regs.rip - 1, out var handler) || SignalCode(thread.Tid) != Ptrace.SI_KERNEL)
        {
            return false;
        }

        registers.Write(thread.Tid, handler.SteppedOver(regs));
        Restart(thread, request, 0);
        return true;
    }
}
