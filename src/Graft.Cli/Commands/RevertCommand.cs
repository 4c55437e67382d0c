using System.CommandLine;
using Graft.Cli.Output;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>graft revert &lt;pid&gt; &lt;name&gt;; graft revert --all &lt;name&gt;</summary>
internal static class RevertCommand
{
    public static Command Create()
    {
        var selection = new ProcessSelection("name", "name of the applied patch (see graft list)",
            "instead of a pid: every process of this host where the patch is applied");
        var timeout = CommonOptions.Timeout();
        var consistency = CommonOptions.Consistency();
        var force = CommonOptions.Force();
        var json = CommonOptions.Json();
        var command = new Command("revert", "restore the original functions, keeping the patch image loaded (see unload); reverses a transition in flight")
        {
            timeout, consistency, force, json,
        };
        selection.AddTo(command);
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var (target, name, objectPath) = selection.Read(result);
            var request = new ServiceRequest("revert", target ?? 0, Name: name, TimeoutSeconds: result.GetValue(timeout),
                Model: CommonOptions.Model(result.GetValue(consistency)), Force: result.GetValue(force));
            return target is null
                ? CommonOptions.OperateOnHost(request, name, () => HostTargets.WithPatch(name, objectPath), _ => false, result.GetValue(json), interruption)
                : OperationPrinter.Print(CommonOptions.OperateShowingProgress(request, result.GetValue(json), interruption).Report!, "revert", result.GetValue(json));
        }));
        return command;
    }
}
