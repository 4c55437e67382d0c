using System.CommandLine;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>graft unload &lt;pid&gt; &lt;name&gt;</summary>
internal static class UnloadCommand
{
    public static Command Create()
    {
        var pid = CommonOptions.Pid();
        var name = new Argument<string>("name") { Description = "name of a reverted patch whose image stays loaded (see graft list)" };
        var command = new Command("unload", "unmap the image of a reverted patch; pointers the program still holds into it (strings, callbacks, static data) then fault")
        {
            pid, name,
        };
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var (target, patchName) = (result.GetValue(pid), result.GetValue(name)!);
            var unloaded = CommonOptions.Operate(new ServiceRequest("unload", target, Name: patchName), interruption).Unloaded;
            Console.WriteLine($"unload: '{patchName}' in process {target}: {unloaded} image(s) unloaded");
            return 0;
        }));
        return command;
    }
}
