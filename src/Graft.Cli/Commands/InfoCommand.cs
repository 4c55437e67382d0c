using System.CommandLine;
using System.Globalization;
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
            }
            else if (Terminal.IsPlain)
            {
                PrintRecords(definition);
            }
            else
            {
                PrintTable(definition);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>Records by kind: patch, then function (one per function, or one per object without any), then local.</summary>
    private static void PrintRecords(PatchDefinition definition)
    {
        Plain.Record("patch", definition.Name, definition.Path, definition.BuildId, definition.Replace ? "cumulative" : null);
        foreach (var row in Rows(definition))
        {
            Plain.Record("function", row.Object, row.BuildId, row.Function, row.Sympos, row.Callbacks);
        }

        foreach (var local in definition.LocalSymbols)
        {
            Plain.Record("local", local.Name, local.Object ?? "(main executable)", local.Sympos.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void PrintTable(PatchDefinition definition)
    {
        var console = Terminal.Styled;
        var kind = definition.Replace ? ", cumulative: replaces every earlier patch" : "";
        console.MarkupLineInterpolated($"patch [bold]{definition.Name}[/] ({definition.Path}, build-id {definition.BuildId ?? "none"}{kind})");
        var table = new Table().AddColumns("object", "requires build-id", "function", "sympos", "callbacks");
        foreach (var row in Rows(definition))
        {
            table.AddRow(Markup.Escape(row.Object), row.BuildId, Markup.Escape(row.Function ?? ""), row.Sympos ?? "", row.Callbacks);
        }

        console.Write(table);
        foreach (var local in definition.LocalSymbols)
        {
            console.MarkupLineInterpolated($"uses local symbol {local.Name} of {local.Object ?? "(main executable)"} (sympos {local.Sympos})");
        }
    }

    private static IEnumerable<Row> Rows(PatchDefinition definition)
    {
        foreach (var obj in definition.Objects)
        {
            var callbacks = Callbacks(obj.Callbacks);
            foreach (var function in obj.Functions)
            {
                yield return new Row(obj.DisplayName, obj.BuildId ?? "any", function.OldName, function.OldSympos.ToString(CultureInfo.InvariantCulture), callbacks);
            }

            if (obj.Functions.Count == 0)
            {
                yield return new Row(obj.DisplayName, obj.BuildId ?? "any", null, null, callbacks);
            }
        }
    }

    private static string Callbacks(CallbackSet set) => string.Join(", ", new[]
    {
        (set.PrePatch, "pre_patch"), (set.PostPatch, "post_patch"), (set.PreUnpatch, "pre_unpatch"), (set.PostUnpatch, "post_unpatch"),
    }.Where(c => c.Item1 != 0).Select(c => c.Item2));

    private sealed record Row(string Object, string BuildId, string? Function, string? Sympos, string Callbacks);
}
