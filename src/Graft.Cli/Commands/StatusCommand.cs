using System.CommandLine;
using System.Text.Json;
using Graft.Cli.Output;
using Graft.Patching;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>graft status &lt;pid&gt;</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var pid = CommonOptions.Pid();
        var json = CommonOptions.Json();
        var command = new Command("status", "show the transition in flight: threads switched, and each stuck thread with its stack") { pid, json };
        command.SetAction(result => CommonOptions.Run(() =>
        {
            var target = result.GetValue(pid);
            var progress = CommonOptions.Operate(new ServiceRequest("status", target),
                patcher => new ServiceReply(Progress: patcher.Status(target), Done: true)).Progress;
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new StatusOutput(result.GetValue(pid), progress), CliJson.Default.StatusOutput));
            }
            else if (progress is null)
            {
                Console.WriteLine($"process {result.GetValue(pid)}: no transition in flight");
            }
            else
            {
                OperationPrinter.PrintProgress(progress);
            }

            return 0;
        }));
        return command;
    }
}
