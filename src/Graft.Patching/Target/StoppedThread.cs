namespace Graft.Patching.Target;

/// <summary>A thread graft holds stopped, for one piece of work; disposing it lets the thread run on.</summary>
internal sealed class StoppedThread(TargetProcess target, int tid) : IDisposable
{
    public int Tid => tid;

    public void Dispose() => target.Tracee.Resume(tid);
}
