using System.CommandLine;
using Graft.Cli.Output;

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
        var command = new Command("revert", "restore the original functions and unload the patch; reverses a transition in flight")
        {
            pid, name, timeout, consistency, force, json,
        };
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var report = CommonOptions.NewPatcher().Revert(result.GetValue(pid), result.GetValue(name)!, TimeSpan.FromSeconds(result.GetValue(timeout)),
                interruption, CommonOptions.Model(result.GetValue(consistency)), result.GetValue(force));
            return OperationPrinter.Print(report, "revert", result.GetValue(json));
        }));
        return command;
    }
}
