using System.CommandLine;
using System.Text.Json;
using Graft.Cli.Output;
using Graft.Patching;
using Graft.Patching.Operations;
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
        command.SetAction(result => CommonOptions.Run(interruption =>
        {
            var target = result.GetValue(pid);
            var progress = CommonOptions.Operate(new ServiceRequest("status", target), interruption).Progress;
            // Libraries a patch failed for as they loaded (a refused pre_patch): said loudly, here too.
            var refused = Patcher.List(target).Patches
                .SelectMany(p => p.Objects.Where(o => o.Refused is not null).Select(o => new RefusedLibrary(p.Name, o.DisplayName, o.Refused!)))
                .ToList();
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new StatusOutput(target, progress, refused), CliJson.Default.StatusOutput));
                return 0;
            }

            foreach (var library in refused)
            {
                if (Terminal.IsPlain)
                {
                    Plain.Record("refused", library.Patch, library.Object, library.Reason);
                }
                else
                {
                    Console.WriteLine($"process {target}: patch '{library.Patch}' left library '{library.Object}' unpatched: {library.Reason}");
                }
            }

            if (progress is not null)
            {
                OperationPrinter.PrintProgress(progress);
            }
            else if (Terminal.IsPlain)
            {
                Plain.Note($"process {target}: no transition in flight");
            }
            else
            {
                Console.WriteLine($"process {target}: no transition in flight");
            }

            return 0;
        }));
        return command;
    }
}
