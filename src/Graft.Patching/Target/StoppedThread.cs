using Graft.Linux.Tracing;

namespace Graft.Patching.Target;

/// <summary>
/// A thread graft holds stopped, for one piece of work; disposing it lets the thread run on. A
/// struct: it is made at every stop, and nothing may allocate while a thread waits.
/// </summary>
internal readonly struct StoppedThread(int tid, Tracee tracee) : IDisposable
{
    public int Tid => tid;

    public void Dispose() => tracee.Resume(tid);
}
