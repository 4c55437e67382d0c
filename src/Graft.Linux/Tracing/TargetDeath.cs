using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Noticing at once that the target dies while Graft is attached: a fatal signal on its way to a thread is described
/// (where the thread was, through <see cref="DescribeFault"/>) before it is passed on, and a process killed from outside
/// is reported as killed. The operation then ends with that, rather than waiting for a timeout.
/// </summary>
internal sealed class TargetDeath(int pid, ThreadRegisters registers)
{
    /// <summary>Says where a pc lies (patch code, a graft slot, the program), for the report of a fatal signal.</summary>
    public Func<ulong, string>? DescribeFault { get; set; }

    /// <summary>What ended the process while Graft was attached, if it ended: the first cause noted.</summary>
    public Exception? Cause { get; private set; }

    /// <summary>
    /// A signal in signal-delivery-stop that will end the process: one of the signals a fault raises (or abort()),
    /// neither caught nor blocked by the program. Described while the thread still stands where it faulted.
    /// </summary>
    public void NoteIfFatal(TracedThread thread, int signal)
    {
        if (Cause is not null || SignalName(signal) is not { } name || IsCaught(signal))
        {
            return;
        }

        string where;
        try
        {
            var pc = registers.Read(thread.Tid).rip;
            try
            {
                where = DescribeFault?.Invoke(pc) ?? $"0x{pc:x}";
            }
            catch (Exception e) when (e is IOException or RemoteMemoryException or UnauthorizedAccessException)
            {
                where = $"0x{pc:x}";
            }
        }
        catch (TargetGoneException)
        {
            // Killed while it stood there, by another thread's fatal signal: the signal is still the news.
            where = "an address graft could not read: the thread was gone";
        }

        Cause = new TargetCrashedException(pid, thread.Tid, name, where);
    }

    /// <summary>A thread reported killed by a signal: every thread of the process is, whichever signal it was.</summary>
    public void NoteKilled(WaitStatus status)
    {
        Cause ??= new TargetGoneException($"process {pid} was killed by {SignalName(status.TerminatingSignal) ?? $"signal {status.TerminatingSignal}"}");
    }

    /// <summary>The process itself ran execve: what Graft knew of it is gone.</summary>
    public void NoteExec()
    {
        Cause ??= new TargetGoneException($"process {pid} started another program (execve) while graft was attached");
    }

    private static string? SignalName(int signal) => signal switch
    {
        Signals.SIGSEGV => "SIGSEGV",
        Signals.SIGBUS => "SIGBUS",
        Signals.SIGILL => "SIGILL",
        Signals.SIGFPE => "SIGFPE",
        Signals.SIGABRT => "SIGABRT",
        Signals.SIGKILL => "SIGKILL",
        _ => null,
    };

    // SigCgt of /proc/<pid>/status: the signals the program has a handler for.
    private bool IsCaught(int signal)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("SigCgt:", StringComparison.Ordinal));
            return line is not null && (Convert.ToUInt64(line["SigCgt:".Length..].Trim(), 16) & (1UL << (signal - 1))) != 0;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
