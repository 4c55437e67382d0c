namespace Graft.Patching.Target;

/// <summary>
/// What graft stops a thread for, the kind its stop counts under in the report
/// (<see cref="StopCost"/>), beside the kinds the mechanism sees on its own (<see cref="Linux.Tracing.StopKinds"/>).
/// </summary>
internal static class StopPurposes
{
    /// <summary>A per-thread sweep: stopped, unwound and, if clean, switched.</summary>
    public const string Sweep = "sweep";

    /// <summary>Every thread stopped at once, until the switch or the next attempt.</summary>
    public const string StopWorld = "stop-world";

    /// <summary>
    /// The thread that runs the calls that load the patch, stopped from its choice until it goes
    /// on: the injected dlopen (none when a reverted image is reused), the system calls around
    /// it, and graft's own work in between (matching the patch again, preparing the slots).
    /// </summary>
    public const string Load = "load";

    /// <summary>The thread of the program that runs pthread_create for Graft's agent thread, once per process.</summary>
    public const string AgentStart = "agent start";

    /// <summary>The thread that runs dlclose of a patch rolled back or unloaded.</summary>
    public const string Dlclose = "injected dlclose";

    /// <summary>The thread that runs a patch's callbacks.</summary>
    public const string Callback = "callback";

    /// <summary>Each thread stopped once as a new transition begins, to enter it in the table.</summary>
    public const string TransitionStart = "transition start";

    /// <summary>Code written with the int3 protocol: each thread checked outside the bytes, and the thread that runs membarrier.</summary>
    public const string CodeWrite = "code write";

    /// <summary>A completing transition waiting until no thread is inside what it makes unreachable.</summary>
    public const string Synchronization = "synchronization";

    /// <summary>--force: each thread still stuck, switched.</summary>
    public const string Force = "force";

    /// <summary>graft status: each thread unwound.</summary>
    public const string Status = "status";

    /// <summary>A thread whose seccomp filters are read.</summary>
    public const string SeccompCheck = "seccomp check";

    /// <summary>The thread that unmaps slot pages nothing uses any more.</summary>
    public const string SlotUnmap = "slot page unmap";

    /// <summary>graftd applying patches to a library as it loads, on a thread fit to run calls.</summary>
    public const string LibraryComing = "library coming";

    /// <summary>graftd putting in or taking out its SIGTRAP handler.</summary>
    public const string LoaderTrapGuard = "loader trap guard";

    /// <summary>graftd opening its pidfd in the process for its loader stub, or closing it.</summary>
    public const string LoaderStub = "loader stub";
}
