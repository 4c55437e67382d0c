using Graft.Patching;
using Graft.Patching.Audit;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Daemon;

/// <summary>The processes graftd holds, one <see cref="ProcessWatch"/> each, created on demand.</summary>
internal sealed class Watches : IDisposable
{
    /// <summary>How often graftd looks whether the processes it detached from still have what their stub calls it back with.</summary>
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(2);

    private readonly Dictionary<int, ProcessWatch> byPid = [];
    private readonly Lock gate = new();
    private readonly Action<string> journal;
    private readonly Timer checks;
    private bool disposed;

    public Watches(Action<string> journal)
    {
        this.journal = journal;
        checks = new Timer(_ => CheckDetached(), null, CheckInterval, CheckInterval);
    }

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
            ObjectDisposedException.ThrowIf(disposed, this);
            if (byPid.TryGetValue(pid, out var watch) && watch.IsRunning)
            {
                return watch;
            }

            // The watch before, if any, has ended: its thread gone, the process detached. What it
            // left with the loader stub calling back is the new watch's to take over.
            watch?.Dispose();
            byPid.Remove(pid);
            return byPid[pid] = ProcessWatch.Start(pid, journal, letGoAtOnce, watch?.TakeDetached(), () => CalledBack(pid));
        }
    }

    /// <summary>
    /// The loader stub of a process graftd detached from wants an event served: a watch attaches
    /// again, takes the stub over and answers it (ProcessWatch, LibraryWatch.Resume).
    /// </summary>
    private void CalledBack(int pid)
    {
        try
        {
            For(pid, letGoAtOnce: true);
        }
        catch (Exception e)
        {
            // On a thread of the pool: whatever it is, graftd carries on, and the process's
            // stub reads the end of the socket once the watch before closes it.
            journal($"process {pid}: its loader stub called graftd back, but no watch could attach: {e.Message}");
        }
    }

    /// <summary>
    /// Runs an operation on the process's watch (<see cref="ProcessWatch.TrySubmit"/>); a watch
    /// that let the process go just before is replaced by a new one, which attaches again.
    /// </summary>
    public ServiceReply Submit(int pid, ServiceRequest request, Action<string> notice, IProgress<TransitionSnapshot>? progress, CancellationToken interruption,
        Action<AuditRecord> audit)
    {
        while (true)
        {
            if (For(pid).TrySubmit(request, notice, progress, interruption, audit) is { } reply)
            {
                return reply;
            }
        }
    }

    /// <summary>
    /// A process graftd detached from that closed graftd's descriptors (a daemon's closefrom)
    /// would load libraries unseen: a watch attaches and arms its stub anew. One that exited is
    /// forgotten.
    /// </summary>
    private void CheckDetached()
    {
        List<int> lost;
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            foreach (var (pid, gone) in byPid.Where(w => !w.Value.IsRunning && !Directory.Exists($"/proc/{w.Key}")).ToList())
            {
                gone.Dispose();
                gone.TakeDetached()?.Dispose();
                byPid.Remove(pid);
            }

            lost = [.. byPid.Values.Where(w => w.LostItsCallBack).Select(w => w.Pid)];
        }

        foreach (var pid in lost)
        {
            journal($"process {pid}: graftd's descriptors for its loader stub were closed; watching its loader again");
            CalledBack(pid);
        }
    }

    public void Dispose()
    {
        checks.Dispose();
        lock (gate)
        {
            disposed = true;
            foreach (var watch in byPid.Values)
            {
                watch.Dispose();

                // graftd's end of the stub's socket closes: the stub lets every event pass, as with a graftd gone.
                watch.TakeDetached()?.Dispose();
            }

            byPid.Clear();
        }
    }
}
