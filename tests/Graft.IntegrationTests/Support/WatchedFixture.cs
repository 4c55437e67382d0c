using Graft.Patching;
using Graft.Patching.Service;

namespace Graft.IntegrationTests.Support;

/// <summary>
/// graftd's watch of one fixture, run inside the test host: operations go through it as the
/// graft command's would, and its journal of the process (operations and library events) is
/// appended to the callback log as "graft: ..." lines, in order with the target's own.
/// </summary>
internal sealed class WatchedFixture(int pid, CallbackLog log) : IDisposable
{
    private ProcessWatch watch = Start(pid, log);

    public OperationReport Apply(string patch, TimeSpan timeout, ConsistencyModel model = ConsistencyModel.PerThread) =>
        Run(new ServiceRequest("apply", pid, Patch: patch, TimeoutSeconds: timeout.TotalSeconds, Model: model)).Report!;

    public OperationReport Revert(string name, TimeSpan timeout, ConsistencyModel model = ConsistencyModel.PerThread) =>
        Run(new ServiceRequest("revert", pid, Name: name, TimeoutSeconds: timeout.TotalSeconds, Model: model)).Report!;

    public void Dispose() => watch.Dispose();

    /// <summary>As graftd does: a process with no patch left, or none that needs a watch, is released, and watched again at the next request.</summary>
    private ServiceReply Run(ServiceRequest request)
    {
        ServiceReply? reply;
        while ((reply = Current().TrySubmit(request, _ => { }, progress: null, CancellationToken.None)) is null)
        {
            // The watch let the process go just before: the next one attaches again, as graftd's Watches does.
        }

        return reply.Failure is { } failure ? throw new GraftException(failure, reply.Error!) : reply;
    }

    private ProcessWatch Current()
    {
        if (!watch.IsRunning)
        {
            watch.Dispose();
            watch = Start(pid, log);
        }

        return watch;
    }

    private static ProcessWatch Start(int pid, CallbackLog log)
    {
        var prefix = $"process {pid}: ";
        return ProcessWatch.Start(pid, line =>
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                log.Append($"graft: {line[prefix.Length..]}");
            }
        });
    }
}
