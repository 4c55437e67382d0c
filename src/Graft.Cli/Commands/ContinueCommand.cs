using System.CommandLine;
using Graft.Cli.Output;

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
            var report = CommonOptions.NewPatcher().Continue(result.GetValue(pid), TimeSpan.FromSeconds(result.GetValue(timeout)), interruption, result.GetValue(force));
            return OperationPrinter.Print(report, "continue", result.GetValue(json));
        }));
        return command;
    }
}
