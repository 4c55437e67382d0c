using System.CommandLine;
using System.Text.Json;
using Graft.Cli.Output;
using Graft.Model.Patches;
using Graft.Patching;
using Graft.Patching.Operations;
using Spectre.Console;

namespace Graft.Cli.Commands;

/// <summary>graft info fix.so: what a patch replaces, in which objects, and the build-ids it requires.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var patch = new Argument<string>("patch") { Description = "patch file (.so)" };
        var json = CommonOptions.Json();
        var command = new Command("info", "show what a patch replaces, without loading it") { patch, json };
        command.SetAction(result => CommonOptions.Run(() =>
        {
            var definition = Patcher.ReadPatch(result.GetValue(patch)!);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(definition, CliJson.Default.PatchDefinition));
                return 0;
            }

            var kind = definition.Replace ? ", cumulative: replaces every earlier patch" : "";
            AnsiConsole.MarkupLineInterpolated($"patch [bold]{definition.Name}[/] ({definition.Path}, build-id {definition.BuildId ?? "none"}{kind})");
            var table = new Table().AddColumns("object", "requires build-id", "function", "sympos", "callbacks");
            foreach (var obj in definition.Objects)
            {
                var callbacks = Callbacks(obj.Callbacks);
                foreach (var function in obj.Functions)
                {
                    table.AddRow(Markup.Escape(obj.DisplayName), obj.BuildId ?? "any", Markup.Escape(function.OldName), function.OldSympos.ToString(), callbacks);
                }

                if (obj.Functions.Count == 0)
                {
                    table.AddRow(Markup.Escape(obj.DisplayName), obj.BuildId ?? "any", "", "", callbacks);
                }
            }

            AnsiConsole.Write(table);
            foreach (var local in definition.LocalSymbols)
            {
                AnsiConsole.MarkupLineInterpolated($"uses local symbol {local.Name} of {local.Object ?? "(main executable)"} (sympos {local.Sympos})");
            }

            return 0;
        }));
        return command;
    }

    private static string Callbacks(CallbackSet set) => string.Join(", ", new[]
    {
        (set.PrePatch, "pre_patch"), (set.PostPatch, "post_patch"), (set.PreUnpatch, "pre_unpatch"), (set.PostUnpatch, "post_unpatch"),
    }.Where(c => c.Item1 != 0).Select(c => c.Item2));
}
