using Graft.Patching;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Daemon;

/// <summary>The processes graftd holds, one <see cref="ProcessWatch"/> each, created on demand.</summary>
internal sealed class Watches(Action<string> journal) : IDisposable
{
    private readonly Dictionary<int, ProcessWatch> byPid = [];
    private readonly Lock gate = new();

    /// <summary>
    /// At start: every process whose state record holds patches (a graftd restarted finds what
    /// the previous one, or a graft without graftd, left), so loads are followed and
    /// transitions in flight carried on.
    /// </summary>
    public void Rediscover()
    {
        foreach (var pid in HostTargets.WithState().Processes.Select(p => p.Pid))
        {
            try
            {
                if (Patcher.List(pid).Patches.Count > 0)
                {
                    For(pid, letGoAtOnce: true);
                }
            }
            catch (GraftException e)
            {
                journal($"process {pid}: not watched: {e.Message}");
            }
        }
    }

    /// <summary>
    /// The watch of a process, attaching to it now if graftd does not hold it yet;
    /// <paramref name="letGoAtOnce"/> when no command waits for it (<see cref="ProcessWatch.Start"/>).
    /// </summary>
    public ProcessWatch For(int pid, bool letGoAtOnce = false)
    {
        lock (gate)
        {
            if (byPid.TryGetValue(pid, out var watch) && watch.IsRunning)
            {
                return watch;
            }

            watch?.Dispose();
            return byPid[pid] = ProcessWatch.Start(pid, journal, letGoAtOnce);
        }
    }

    /// <summary>
    /// Runs an operation on the process's watch (<see cref="ProcessWatch.TrySubmit"/>); a watch
    /// that let the process go just before is replaced by a new one, which attaches again.
    /// </summary>
    public ServiceReply Submit(int pid, ServiceRequest request, Action<string> notice, IProgress<TransitionSnapshot>? progress, CancellationToken interruption)
    {
        while (true)
        {
            if (For(pid).TrySubmit(request, notice, progress, interruption) is { } reply)
            {
                return reply;
            }
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            foreach (var watch in byPid.Values)
            {
                watch.Dispose();
            }

            byPid.Clear();
        }
    }
}
