using Graft.Patching.Operations;
namespace Graft.Patching.Service;

/// <summary>The operations graftd runs for the graft command, by name.</summary>
internal static class ServiceOperations
{
    public static ServiceReply Run(Patcher patcher, ServiceRequest request)
    {
        var timeout = TimeSpan.FromSeconds(request.TimeoutSeconds);
        return request.Command switch
        {
            "apply" => Done(patcher.Apply(request.Pid, Required(request.Patch, "patch"), timeout, model: request.Model, force: request.Force)),
            "revert" => Done(patcher.Revert(request.Pid, Required(request.Name, "name"), timeout, model: request.Model, force: request.Force)),
            "continue" => Done(patcher.Continue(request.Pid, timeout, force: request.Force)),
            "unload" => new ServiceReply(Unloaded: patcher.Unload(request.Pid, Required(request.Name, "name")), Done: true),
            "status" => new ServiceReply(Progress: patcher.Status(request.Pid), Done: true),
            _ => throw new GraftException(GraftFailure.Internal, $"graftd does not know the command '{request.Command}'"),
        };
    }

    private static ServiceReply Done(OperationReport report) => new(Report: report, Done: true);

    private static string Required(string? value, string what) =>
        value ?? throw new GraftException(GraftFailure.Internal, $"the request names no {what}");
}
