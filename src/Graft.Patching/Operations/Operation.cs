using Graft.Linux.Tracing;
using Graft.Linux.Trust;
using Graft.Patching.Service;

namespace Graft.Patching.Operations;

/// <summary>
/// The one path every operation takes (apply, revert, continue, status, unload), from the
/// graft command and from graftd alike: a request as the command line gave it, run in graftd
/// when graftd runs (it holds the processes it watches, and a process has one tracer), else
/// in this process; on either side <see cref="Execute"/> runs it. An interruption (Ctrl-C)
/// rolls the operation back on either side. Notices and, as a transition runs, its progress
/// reach the caller from either side.
/// </summary>
public static class Operation
{
    public static ServiceReply Run(ServiceRequest request, Action<string> notice, IProgress<TransitionSnapshot>? progress, CancellationToken interruption)
    {
        RequirePrivilege(request.Command);
        using var service = ServiceClient.TryConnect(ServiceSocket.Path, out var unreachable);
        if (service is not null)
        {
            return service.Run(request, notice, progress, interruption);
        }

        try
        {
            return Execute(new Patcher(notice, progress), request, interruption);
        }
        catch (GraftException e) when (e.InnerException is AlreadyTracedException { TracerCommand: "graftd" })
        {
            // graftd holds the process, and graft did not reach it: say where it looked.
            throw new GraftException(e.Failure, $"{e.Message}; {ServiceSocket.NoneAnswers(unreachable)}", e);
        }
    }

    /// <summary>
    /// Refuses <paramref name="command"/> to a caller that may not patch (<see cref="Privilege"/>) if it changes a
    /// process's code or the host-wide list, before anything is read or asked of graftd: the one line says why.
    /// </summary>
    public static void RequirePrivilege(string command)
    {
        if (command is "apply" or "revert" or "continue" or "unload" or "enable" or "disable" && !Privilege.MayPatch())
        {
            throw new GraftException(GraftFailure.NotPermitted, Privilege.Refusal($"graft {command}"));
        }
    }

    /// <summary>Runs <paramref name="request"/> with <paramref name="patcher"/>: here, or in graftd on the process's watch.</summary>
    internal static ServiceReply Execute(Patcher patcher, ServiceRequest request, CancellationToken interruption)
    {
        var timeout = TimeSpan.FromSeconds(request.TimeoutSeconds);
        return request.Command switch
        {
            "apply" => Done(patcher.Apply(request.Pid, Required(request.Patch, "patch"), timeout, interruption, request.Model, request.Force)),
            "revert" => Done(patcher.Revert(request.Pid, Required(request.Name, "name"), timeout, interruption, request.Model, request.Force)),
            "continue" => Done(patcher.Continue(request.Pid, timeout, interruption, request.Force)),
            "unload" => new ServiceReply(Unloaded: patcher.Unload(request.Pid, Required(request.Name, "name")), Done: true),
            "status" => new ServiceReply(Progress: patcher.Status(request.Pid), Done: true),
            _ => throw new GraftException(GraftFailure.Internal, $"graft does not know the command '{request.Command}'"),
        };
    }

    private static ServiceReply Done(OperationReport report) => new(Report: report, Done: true);

    private static string Required(string? value, string what) =>
        value ?? throw new GraftException(GraftFailure.Internal, $"the request names no {what}");
}
