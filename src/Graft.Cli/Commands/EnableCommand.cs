using System.CommandLine;
using Graft.Cli.Output;
using Graft.Model.State;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>
/// graft enable fix.so [--object PATH]: records the patch in graftd's host-wide list (processes
/// that start with its object get it before main, and graftd applies it again when it starts),
/// then applies it to every process that runs the code now, as apply --all does.
/// </summary>
internal static class EnableCommand
{
    public static Command Create()
    {
        var patch = new Argument<string>("patch") { Description = "patch file (.so) built with graft build" };
        var objectPath = new Option<string?>("--object")
        {
            Description = "the file the patch is for (an executable or library), when the patch pins no build-id; processes that map it get the patch",
        };
        var timeout = CommonOptions.Timeout();
        var json = CommonOptions.Json();
        var command = new Command("enable", "enable a patch host-wide: every process that runs the code gets it now, and every one that starts later, until graft disable; graftd keeps the list")
        {
            patch, objectPath, timeout, json,
        };
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var file = Path.GetFullPath(result.GetValue(patch)!);
            var onObject = result.GetValue(objectPath) is { } path ? Path.GetFullPath(path) : null;
            var enabled = HostWideList.Ask(new ServiceRequest("enable", 0, Patch: file, Object: onObject)).Single();
            Console.Error.WriteLine($"graft: '{Escaped.Line(enabled.Name)}' enabled host-wide: processes that start with an object of build-id {string.Join(", ", enabled.BuildIds)} get it before main");
            // graftd's copy: what processes that start get, and what a restarted graftd applies.
            var request = new ServiceRequest("apply", 0, Patch: enabled.File, TimeoutSeconds: result.GetValue(timeout));
            var definition = Patcher.ReadPatch(enabled.File);
            return CommonOptions.OperateOnHost(request, enabled.Name, () => HostTargets.ForPatch(definition, enabled.Object),
                process => HostTargets.Holds(process, enabled.Name, PatchPhase.Patched), result.GetValue(json), interruption);
        }));
        return command;
    }
}
