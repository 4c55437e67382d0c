using System.CommandLine;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>
/// graft disable &lt;name&gt;: takes the patch off graftd's host-wide list (processes that start
/// from now on run the old code), then reverts it from every process where it is applied, as
/// revert --all does; --keep leaves it applied where it is.
/// </summary>
internal static class DisableCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "name of the patch enabled host-wide (see graft list --all)" };
        var keep = new Option<bool>("--keep") { Description = "leave the patch applied in the processes that have it; only processes that start later run the old code" };
        var timeout = CommonOptions.Timeout();
        var json = CommonOptions.Json();
        var command = new Command("disable", "disable a patch enabled host-wide: processes that start no longer get it, and it is reverted from every process that has it")
        {
            name, keep, timeout, json,
        };
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var disabled = HostWideList.Ask(new ServiceRequest("disable", 0, Name: result.GetValue(name))).Single();
            Console.Error.WriteLine($"graft: '{Output.Escaped.Line(disabled.Name)}' disabled host-wide: processes that start from now on run the old code");
            if (result.GetValue(keep))
            {
                return 0;
            }

            var request = new ServiceRequest("revert", 0, Name: disabled.Name, TimeoutSeconds: result.GetValue(timeout));
            return CommonOptions.OperateOnHost(request, disabled.Name, () => HostTargets.WithPatch(disabled.Name, null), _ => false,
                result.GetValue(json), interruption);
        }));
        return command;
    }
}
