using System.CommandLine;
using Graft.Cli.Output;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>graft apply &lt;pid&gt; fix.so</summary>
internal static class ApplyCommand
{
    public static Command Create()
    {
        var pid = CommonOptions.Pid();
        var patch = new Argument<string>("patch") { Description = "patch file (.so) built with graft build" };
        var timeout = CommonOptions.Timeout();
        var consistency = CommonOptions.Consistency();
        var force = CommonOptions.Force();
        var json = CommonOptions.Json();
        var command = new Command("apply", "load a patch into a running process and switch it to the new functions; continues a transition in flight")
        {
            pid, patch, timeout, consistency, force, json,
        };
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var (target, file, seconds, model) = (result.GetValue(pid), result.GetValue(patch)!, result.GetValue(timeout), CommonOptions.Model(result.GetValue(consistency)));
            var report = CommonOptions.Operate(new ServiceRequest("apply", target, Patch: Path.GetFullPath(file), TimeoutSeconds: seconds, Model: model, Force: result.GetValue(force)),
                interruption).Report!;
            return OperationPrinter.Print(report, "apply", result.GetValue(json));
        }));
        return command;
    }
}
