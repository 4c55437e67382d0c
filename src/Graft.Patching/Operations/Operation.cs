using Graft.Linux.Tracing;
using Graft.Linux.Trust;
using Graft.Model.Patches;
using Graft.Patching.Audit;
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
            var requester = Requester.Self();
            return Execute(new Patcher(notice, progress), request, interruption, record => SyslogAudit.Write(record, requester, notice));
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

    /// <summary>
    /// The patch of an operation on many processes (apply --all, --object), read here to choose them; a refusal
    /// goes to syslog as the operation's (pid 0: no process was chosen yet), as <see cref="Run"/> records one.
    /// </summary>
    public static PatchDefinition ReadForHost(ServiceRequest request, Action<string> notice)
    {
        RequirePrivilege(request.Command);
        var audited = new AuditedOperation(request);
        try
        {
            return Patcher.ReadPatch(Required(request.Patch, "patch"), audited);
        }
        catch (GraftException e)
        {
            SyslogAudit.Write(audited.Failed(e), Requester.Self(), notice);
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="request"/> with <paramref name="patcher"/>: here, or in graftd on the process's watch. An
    /// operation that may change the process, refused, failed or done, goes to <paramref name="audit"/> (<see cref="AuditedOperation"/>).
    /// </summary>
    internal static ServiceReply Execute(Patcher patcher, ServiceRequest request, CancellationToken interruption, Action<AuditRecord> audit)
    {
        if (!AuditedOperation.Covers(request))
        {
            return Execute(patcher, request, interruption, audited: null);
        }

        var audited = new AuditedOperation(request);
        ServiceReply reply;
        try
        {
            reply = Execute(patcher, request, interruption, audited);
        }
        catch (GraftException e)
        {
            audit(audited.Failed(e));
            throw;
        }

        audit(audited.Ended(reply));
        return reply;
    }

    private static ServiceReply Execute(Patcher patcher, ServiceRequest request, CancellationToken interruption, AuditedOperation? audited)
    {
        var timeout = TimeSpan.FromSeconds(request.TimeoutSeconds);
        return request.Command switch
        {
            "apply" => Done(patcher.Apply(request.Pid, Patcher.ReadPatch(Required(request.Patch, "patch"), audited), timeout, interruption, request.Model, request.Force)),
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
