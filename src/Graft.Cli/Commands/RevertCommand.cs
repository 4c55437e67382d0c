using System.CommandLine;
using Graft.Cli.Output;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>graft revert &lt;pid&gt; &lt;name&gt;</summary>
internal static class RevertCommand
{
    public static Command Create()
    {
        var pid = CommonOptions.Pid();
        var name = new Argument<string>("name") { Description = "name of the applied patch (see graft list)" };
        var timeout = CommonOptions.Timeout();
        var consistency = CommonOptions.Consistency();
        var force = CommonOptions.Force();
        var json = CommonOptions.Json();
        var command = new Command("revert", "restore the original functions, keeping the patch image loaded (see unload); reverses a transition in flight")
        {
            pid, name, timeout, consistency, force, json,
        };
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var (target, patchName, seconds, model) = (result.GetValue(pid), result.GetValue(name)!, result.GetValue(timeout), CommonOptions.Model(result.GetValue(consistency)));
            var report = CommonOptions.Operate(new ServiceRequest("revert", target, Name: patchName, TimeoutSeconds: seconds, Model: model, Force: result.GetValue(force)),
                interruption).Report!;
            return OperationPrinter.Print(report, "revert", result.GetValue(json));
        }));
        return command;
    }
}
