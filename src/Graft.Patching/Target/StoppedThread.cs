using Graft.Linux.Tracing;

namespace Graft.Patching.Target;

/// <summary>A thread graft holds stopped, for one piece of work; disposing it lets the thread run on.</summary>
internal sealed class StoppedThread(int tid, Tracee tracee) : IDisposable
{
    public int Tid => tid;

    public void Dispose() => tracee.Resume(tid);
}
