namespace Graft.Linux.Tracing;

/// <summary>The tracer's view of one thread of the tracee.</summary>
internal sealed class TracedThread(int tid)
{
    public int Tid { get; } = tid;

    /// <summary>
    /// A child of vfork: a process of its own that shares the target's memory (and so runs into
    /// the code Graft rewrites) until it calls execve or exits. Its death is not the target's.
    /// </summary>
    public bool IsVforkChild { get; init; }

    /// <summary>
    /// Graft's own thread in the target (the agent, which runs Graft's calls): its stops are
    /// Graft's work, not a pause of the program, and count apart (<see cref="StopKinds.Agent"/>).
    /// </summary>
    public bool IsGraftsOwn { get; set; }

    /// <summary>True while the thread sits in a ptrace-stop that Graft asked for and has not ended.</summary>
    public bool IsStopped { get; set; }

    /// <summary>What the current stop is for, as <see cref="StopStatistics"/> counts it; null while the thread runs its own code.</summary>
    public string? StopKind { get; set; }

    /// <summary>When the current stop began, as far as Graft can tell (<see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
    public long StoppedSince { get; set; }

    /// <summary>
    /// The last moment Graft knew the thread was running its own code: its last restart, or a
    /// poll that found nothing pending. A stop it reports later began no earlier.
    /// </summary>
    public long SeenRunningAt { get; set; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>When Graft last sent the thread PTRACE_INTERRUPT: the event-stop that answers it began no earlier.</summary>
    public long InterruptedAt { get; set; }

    /// <summary>What Graft stops the thread for (<see cref="Tracee.Stop"/>): the kind its stop counts under.</summary>
    public string StopPurpose { get; set; } = StopKinds.Interrupt;

    /// <summary>
    /// Restarted without running its own code (into code Graft runs on it, or only to take a
    /// trap it has pending): the stop it is in goes on.
    /// </summary>
    public bool StopGoesOn { get; set; }

    /// <summary>False for a new clone until Graft first lets it run.</summary>
    public bool HasRun { get; set; } = true;

    /// <summary>Graft asked for this thread to stop and has not resumed it since.</summary>
    public bool WantStopped { get; set; }

    /// <summary>
    /// A PTRACE_EVENT_STOP is on its way: we sent PTRACE_INTERRUPT, or the thread is a new clone,
    /// which the kernel starts in an event-stop. The flag keeps a stale stop from being taken for
    /// a fresh one, and keeps us from sending a second interrupt.
    /// </summary>
    public bool StopEventPending { get; set; }

    /// <summary>
    /// Running code Graft put there (an injected syscall or call): its events are Graft's to
    /// collect, never to be passed on like those of a thread running normally.
    /// </summary>
    public bool IsRunningInjected { get; set; }

    /// <summary>
    /// The thread sits in a group-stop (the process is job-control stopped): resuming it uses
    /// PTRACE_LISTEN, which keeps it stopped. Any other restart ends the group-stop for it.
    /// </summary>
    public bool GroupStopped { get; set; }

    /// <summary>Held by a policy in a stop it handles (<see cref="ThreadStop.Hold"/>): only <see cref="Tracee.Release"/> lets it go.</summary>
    public bool Held { get; set; }

    /// <summary>
    /// Graft was stopping the thread, or held it stopped, when a policy's hold began: once the
    /// policy lets it go it stays stopped for that caller, until the caller resumes it.
    /// </summary>
    public bool StoppedForGraft { get; set; }
}
