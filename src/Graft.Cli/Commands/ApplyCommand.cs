using System.CommandLine;
using System.Text.Json;
using Graft.Cli.Output;
using Graft.Patching;

namespace Graft.Cli.Commands;

/// <summary>graft apply &lt;pid&gt; fix.so</summary>
internal static class ApplyCommand
{
    public static Command Create()
    {
        var pid = CommonOptions.Pid();
        var patch = new Argument<string>("patch") { Description = "patch file (.so) built with graft build" };
        var timeout = CommonOptions.Timeout();
        var json = CommonOptions.Json();
        var command = new Command("apply", "load a patch into a running process and switch it to the new functions") { pid, patch, timeout, json };
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var report = CommonOptions.NewPatcher().Apply(result.GetValue(pid), result.GetValue(patch)!, TimeSpan.FromSeconds(result.GetValue(timeout)), interruption);
            Print(report, "apply", result.GetValue(json));
            return 0;
        }));
        return command;
    }

    public static void Print(OperationReport report, string operation, bool json)
    {
        if (json)
        {
            var output = new OperationOutput(report.PatchName, report.Pid, operation, report.Transition.Attempts,
                report.Transition.LongestStop.TotalMilliseconds, report.Functions);
            Console.WriteLine(JsonSerializer.Serialize(output, CliJson.Default.OperationOutput));
            return;
        }

        Console.WriteLine($"{operation}: '{report.PatchName}' in process {report.Pid}: {report.Functions.Count} function(s), " +
            $"{report.Transition.Attempts} attempt(s), threads stopped for at most {report.Transition.LongestStop.TotalMilliseconds:0.###} ms");
    }
}
