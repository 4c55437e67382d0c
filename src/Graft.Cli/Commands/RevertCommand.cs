using System.CommandLine;
using Graft.Patching;

namespace Graft.Cli.Commands;

/// <summary>graft revert &lt;pid&gt; &lt;name&gt;</summary>
internal static class RevertCommand
{
    public static Command Create()
    {
        var pid = CommonOptions.Pid();
        var name = new Argument<string>("name") { Description = "name of the applied patch (see graft list)" };
        var timeout = CommonOptions.Timeout();
        var json = CommonOptions.Json();
        var command = new Command("revert", "restore the original functions and unload the patch") { pid, name, timeout, json };
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var report = CommonOptions.NewPatcher().Revert(result.GetValue(pid), result.GetValue(name)!, TimeSpan.FromSeconds(result.GetValue(timeout)), interruption);
            ApplyCommand.Print(report, "revert", result.GetValue(json));
            return 0;
        }));
        return command;
    }
}
