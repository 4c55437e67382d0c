using System.CommandLine;
using Graft.Cli.Output;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>graft continue &lt;pid&gt;</summary>
internal static class ContinueCommand
{
    public static Command Create()
    {
        var pid = CommonOptions.Pid();
        var timeout = CommonOptions.Timeout();
        var force = CommonOptions.Force();
        var json = CommonOptions.Json();
        var command = new Command("continue", "resume the sweeps of the transition in flight in a process") { pid, timeout, force, json };
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var (target, seconds) = (result.GetValue(pid), result.GetValue(timeout));
            var request = new ServiceRequest("continue", target, TimeoutSeconds: seconds, Force: result.GetValue(force));
            var report = CommonOptions.OperateShowingProgress(request, result.GetValue(json), interruption).Report!;
            return OperationPrinter.Print(report, "continue", result.GetValue(json));
        }));
        return command;
    }
}
