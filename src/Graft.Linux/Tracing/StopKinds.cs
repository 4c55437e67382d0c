namespace Graft.Linux.Tracing;

/// <summary>
/// What a thread was stopped for, as <see cref="StopStatistics"/> counts it: the stops the
/// mechanism sees on its own (a thread that runs into one of Graft's int3s, a signal passed on,
/// an event of a thread being created), and the purposes Graft gives when it stops a thread.
/// </summary>
public static class StopKinds
{
    /// <summary>A thread that ran into an int3 of Graft's (a code write in progress, graftd's loader breakpoint), until Graft sent it on.</summary>
    public const string Trap = "trap";

    /// <summary>A signal on its way to the thread, held in signal-delivery-stop until Graft passed it on.</summary>
    public const string Signal = "signal";

    /// <summary>A syscall-stop of a thread that runs with them (the mutex handoff).</summary>
    public const string SyscallStop = "syscall-stop";

    /// <summary>A thread created while Graft was attached, from its creation until it first runs.</summary>
    public const string NewThread = "new thread";

    /// <summary>The creator of a thread, at its clone event.</summary>
    public const string ThreadCreation = "thread creation";

    /// <summary>A thread that forked, while Graft settled the child.</summary>
    public const string Fork = "fork";

    public const string Exec = "exec";

    /// <summary>An interrupt Graft no longer needed (sent again while the first was on its way).</summary>
    public const string Interrupt = "interrupt";

    /// <summary>graftd's loader watch, taking its breakpoint out.</summary>
    public const string LoaderWatch = "loader watch";

    /// <summary>The owner of a mutex Graft's call waits for, stopped to be restarted with syscall-stops.</summary>
    public const string MutexHandoff = "mutex handoff";

    /// <summary>
    /// Graft's own agent thread, stopped to run Graft's calls: not a thread of the program, so
    /// never the longest stop nor one of the threads stopped at once.
    /// </summary>
    public const string Agent = "graft's agent thread";

    /// <summary>Each thread stopped once more to be detached.</summary>
    public const string Detach = "detach";
}
