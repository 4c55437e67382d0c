using System.CommandLine;
using Graft.Cli.Output;
using Graft.Model.State;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>graft apply &lt;pid&gt; fix.so; graft apply --all fix.so, --object &lt;path&gt; fix.so</summary>
internal static class ApplyCommand
{
    public static Command Create()
    {
        var selection = new ProcessSelection("patch", "patch file (.so) built with graft build",
            "instead of a pid: every process of this host that maps one of the patch's objects with the build-id it pins");
        var timeout = CommonOptions.Timeout();
        var consistency = CommonOptions.Consistency();
        var force = CommonOptions.Force();
        var json = CommonOptions.Json();
        var command = new Command("apply", "load a patch into a running process (or every process that runs the code) and switch it to the new functions; continues a transition in flight")
        {
            timeout, consistency, force, json,
        };
        selection.AddTo(command);
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var (target, file, objectPath) = selection.Read(result);
            var request = new ServiceRequest("apply", target ?? 0, Patch: Path.GetFullPath(file), TimeoutSeconds: result.GetValue(timeout),
                Model: CommonOptions.Model(result.GetValue(consistency)), Force: result.GetValue(force));
            if (target is null)
            {
                var patch = Operation.ReadForHost(request, CommonOptions.Notice);
                return CommonOptions.OperateOnHost(request, patch.Name, () => HostTargets.ForPatch(patch, objectPath),
                    process => HostTargets.Holds(process, patch.Name, PatchPhase.Patched), result.GetValue(json), interruption);
            }

            return OperationPrinter.Print(CommonOptions.OperateShowingProgress(request, result.GetValue(json), interruption).Report!, "apply", result.GetValue(json));
        }));
        return command;
    }
}
