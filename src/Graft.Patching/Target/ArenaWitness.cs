using Graft.Linux.Inspection;

namespace Graft.Patching.Target;

/// <summary>
/// What an operation that is rolled back cannot take back: a malloc arena that glibc gave a thread of the program
/// because graft's calls ran on it. <see cref="CallerThread"/> runs them on the main thread, whose allocations go to
/// the main arena, whenever it can; when the main thread is held elsewhere (blocked in a lock, or stopped by job
/// control inside the C library), a thread that never allocated gets an arena at graft's first malloc or free on it,
/// and glibc never unmaps one (<see cref="MallocHeaps"/>). The witness notes the heaps before the operation, so that a
/// rollback can name what stays once graft's calls ran on another thread (<see cref="TargetProcess.CallersBesidesMain"/>).
/// </summary>
internal sealed class ArenaWitness(TargetProcess target)
{
    private readonly IReadOnlyList<MallocHeap> before = MallocHeaps.In(ProcessMaps.Read(target.Pid));

    // A thread that ran graft's calls in an earlier operation (graftd keeps its target) has its arena already.
    private readonly HashSet<int> earlierCallers = [.. target.CallersBesidesMain];

    /// <summary>One warning per arena heap that appeared since the operation began, if graft's calls ran on another thread than the main one.</summary>
    public IReadOnlyList<string> Warnings()
    {
        var callers = target.CallersBesidesMain.Where(tid => !earlierCallers.Contains(tid)).ToList();
        if (callers.Count == 0)
        {
            return [];
        }

        var threads = string.Join(", ", callers);
        return [.. MallocHeaps.Added(before, MallocHeaps.In(ProcessMaps.Read(target.Pid))).Select(heap =>
            $"warning: process {target.Pid} keeps a malloc arena that appeared while graft's calls ran on thread {threads}, not the main thread "
            + $"(glibc gives a thread an arena at its first malloc or free, and never unmaps it): {MallocHeaps.HeapSize >> 20} MiB of address space "
            + $"at 0x{heap.Start:x}, {heap.InUse >> 10} KiB of it in use")];
    }
}
