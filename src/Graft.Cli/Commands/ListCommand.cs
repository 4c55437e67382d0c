using System.CommandLine;
using System.Text.Json;
using Graft.Cli.Output;
using Graft.Patching;
using Graft.Patching.Operations;
using Spectre.Console;

namespace Graft.Cli.Commands;

/// <summary>graft list &lt;pid&gt;: the patches applied to a process, read from the state kept inside it; --all: every patched process.</summary>
internal static class ListCommand
{
    public static Command Create()
    {
        var pid = new Argument<int?>("pid") { Description = "process id of the target; left out with --all", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "every patched process of this host (only processes with graft's state mapping are read)" };
        var json = CommonOptions.Json();
        var command = new Command("list", "show the patches applied to a process, or to every process of this host") { pid, all, json };
        command.Validators.Add(result =>
        {
            if (result.GetValue(all) == result.GetValue(pid).HasValue)
            {
                result.AddError("give a pid, or --all");
            }
        });
        command.SetAction(result => CommonOptions.Run(() =>
        {
            if (result.GetValue(pid) is not { } target)
            {
                return HostList.Print(result.GetValue(json));
            }

            var state = Patcher.List(target);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(state, CliJson.Default.TargetState));
                return 0;
            }

            foreach (var disabled in state.Disabled)
            {
                Console.WriteLine($"reverted, image still loaded: '{Escaped.Line(disabled.Name)}' from {Escaped.Line(disabled.Path)} (graft unload {target} {Escaped.Line(disabled.Name)} unmaps it)");
            }

            if (state.Patches.Count == 0)
            {
                Console.WriteLine($"no patches applied to process {target}");
                return 0;
            }

            var table = new Table().AddColumns("patch", "state", "object", "function", "address", "replacement", "applied");
            foreach (var patch in state.Patches)
            {
                // A patch still loading has no function switched yet: it gets one row of its own.
                var phase = patch.Phase.ToString().ToLowerInvariant() + (patch.Replace ? " (cumulative)" : "");
                var absent = patch.Objects.Where(o => !o.IsLoaded).ToList();
                if (patch.Functions.Count == 0 && absent.Count == 0)
                {
                    table.AddRow(Markup.Escape(patch.Name), phase, "", "", "", "", patch.AppliedAt.ToString("u"));
                }

                foreach (var function in patch.Functions)
                {
                    table.AddRow(Markup.Escape(patch.Name), phase, Markup.Escape(Path.GetFileName(function.ObjectPath)), Markup.Escape(function.Name),
                        $"0x{function.Address:x}", $"0x{function.NewFunction:x}", patch.AppliedAt.ToString("u"));
                }

                foreach (var obj in absent)
                {
                    var why = obj.Refused is null ? "(not loaded)" : $"(left unpatched: {obj.Refused})";
                    table.AddRow(Markup.Escape(patch.Name), phase, Markup.Escape(obj.DisplayName), Markup.Escape(why), "", "", patch.AppliedAt.ToString("u"));
                }
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }
}
