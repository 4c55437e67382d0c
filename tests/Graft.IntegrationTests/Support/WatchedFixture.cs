using Graft.Patching;
using Graft.Patching.Libraries;
using Graft.Patching.Service;

namespace Graft.IntegrationTests.Support;

/// <summary>
/// graftd's watch of one fixture, run inside the test host: operations go through it as the
/// graft command's would, and its journal of the process (operations and library events) is
/// appended to the callback log as "graft: ..." lines, in order with the target's own.
/// </summary>
internal sealed class WatchedFixture : IDisposable
{
    private readonly int pid;
    private readonly CallbackLog log;
    private readonly Lock gate = new();
    private ProcessWatch watch;

    public WatchedFixture(int pid, CallbackLog log)
    {
        this.pid = pid;
        this.log = log;
        watch = Start(null);
    }

    public OperationReport Apply(string patch, TimeSpan timeout, ConsistencyModel model = ConsistencyModel.PerThread) =>
        Run(new ServiceRequest("apply", pid, Patch: patch, TimeoutSeconds: timeout.TotalSeconds, Model: model)).Report!;

    public OperationReport Revert(string name, TimeSpan timeout, ConsistencyModel model = ConsistencyModel.PerThread) =>
        Run(new ServiceRequest("revert", pid, Name: name, TimeoutSeconds: timeout.TotalSeconds, Model: model)).Report!;

    public void Dispose()
    {
        lock (gate)
        {
            watch.Dispose();
            watch.TakeDetached()?.Dispose();
        }
    }

    /// <summary>As graftd does: a process with no patch left, or none that needs a watch, is released, and watched again at the next request.</summary>
    private ServiceReply Run(ServiceRequest request)
    {
        ServiceReply? reply;
        while ((reply = Current().TrySubmit(request, _ => { }, progress: null, CancellationToken.None, audit: _ => { })) is null)
        {
            // The watch let the process go just before: the next one attaches again, as graftd's Watches does.
        }

        return reply.Failure is { } failure ? throw new GraftException(failure, reply.Error!) : reply;
    }

    /// <summary>The running watch; a new one if the last ended, taking over what it left with the loader stub calling back.</summary>
    private ProcessWatch Current()
    {
        lock (gate)
        {
            if (!watch.IsRunning)
            {
                watch.Dispose();
                watch = Start(watch.TakeDetached());
            }

            return watch;
        }
    }

    /// <summary>As graftd's Watches: the stub of the process the watch detached from wants an event served.</summary>
    private void CalledBack()
    {
        try
        {
            Current();
        }
        catch (GraftException e)
        {
            log.Append($"graft: no watch could attach again: {e.Message}");
        }
    }

    private ProcessWatch Start(DetachedLoaderWatch? resume)
    {
        var prefix = $"process {pid}: ";
        return ProcessWatch.Start(pid, line =>
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                log.Append($"graft: {line[prefix.Length..]}");
            }
        }, letGoAtOnce: false, resume, CalledBack);
    }
}
