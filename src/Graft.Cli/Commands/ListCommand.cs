using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Graft.Cli.Output;
using Graft.Model.State;
using Graft.Patching;
using Graft.Patching.Operations;
using Spectre.Console;

namespace Graft.Cli.Commands;

/// <summary>graft list &lt;pid&gt;: the patches applied to a process, read from the state kept inside it; --all: every patched process.</summary>
internal static class ListCommand
{
    public static Command Create()
    {
        // Read as text: a validator that reads an int that failed to parse gets an exception, not the parse error.
        var pid = new Argument<string?>("pid") { Description = "process id of the target; left out with --all", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "every patched process of this host (only processes with graft's state mapping are read)" };
        var json = CommonOptions.Json();
        var command = new Command("list", "show the patches applied to a process, or to every process of this host") { pid, all, json };
        command.Validators.Add(result =>
        {
            var given = result.GetValue(pid);
            if (result.GetValue(all) == given is not null)
            {
                result.AddError("give a pid, or --all");
            }
            else if (given is not null && !int.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                result.AddError($"'{given}' is not a process id");
            }
        });
        command.SetAction(result => CommonOptions.Run(() =>
        {
            if (result.GetValue(pid) is not { } given)
            {
                return HostList.Print(result.GetValue(json));
            }

            var target = int.Parse(given, CultureInfo.InvariantCulture);

            var state = Patcher.List(target);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(state, CliJson.Default.TargetState));
            }
            else if (Terminal.IsPlain)
            {
                PrintRecords(state, target);
            }
            else
            {
                PrintTable(state, target);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>One line per function (or per object not loaded, or per patch still loading), the columns of the table and a note.</summary>
    private static void PrintRecords(TargetState state, int pid)
    {
        foreach (var row in Rows(state))
        {
            Plain.Record(row.Patch, row.State, row.Object, row.Function, row.Address, row.Replacement, row.Applied, row.Note);
        }

        foreach (var disabled in state.Disabled)
        {
            Plain.Record(disabled.Name, "reverted", null, null, null, null, Applied(disabled), $"image still loaded from {disabled.Path}");
        }

        if (state.Patches.Count == 0)
        {
            Plain.Note($"no patches applied to process {pid}");
        }
    }

    private static void PrintTable(TargetState state, int pid)
    {
        var console = Terminal.Styled;
        foreach (var disabled in state.Disabled)
        {
            console.WriteLine($"reverted, image still loaded: '{Escaped.Line(disabled.Name)}' from {Escaped.Line(disabled.Path)} (graft unload {pid} {Escaped.Line(disabled.Name)} unmaps it)");
        }

        if (state.Patches.Count == 0)
        {
            console.WriteLine($"no patches applied to process {pid}");
            return;
        }

        var table = new Table().AddColumns("patch", "state", "object", "function", "address", "replacement", "applied");
        foreach (var row in Rows(state))
        {
            table.AddRow(Markup.Escape(row.Patch), row.State, Markup.Escape(row.Object ?? ""), Markup.Escape(row.Note is null ? row.Function ?? "" : $"({row.Note})"),
                row.Address ?? "", row.Replacement ?? "", row.Applied);
        }

        console.Write(table);
    }

    private static IEnumerable<Row> Rows(TargetState state)
    {
        foreach (var patch in state.Patches)
        {
            var phase = patch.Phase.ToString().ToLowerInvariant() + (patch.Replace ? " (cumulative)" : "");
            var applied = Applied(patch);
            var absent = patch.Objects.Where(o => !o.IsLoaded).ToList();

            // A patch still loading has no function switched yet: it gets one row of its own.
            if (patch.Functions.Count == 0 && absent.Count == 0)
            {
                yield return new Row(patch.Name, phase, null, null, null, null, applied, null);
            }

            foreach (var function in patch.Functions)
            {
                yield return new Row(patch.Name, phase, Path.GetFileName(function.ObjectPath), function.Name, $"0x{function.Address:x}", $"0x{function.NewFunction:x}", applied, null);
            }

            foreach (var obj in absent)
            {
                yield return new Row(patch.Name, phase, obj.DisplayName, null, null, null, applied, obj.Refused is null ? "not loaded" : $"left unpatched: {obj.Refused}");
            }
        }
    }

    // ISO 8601 without a space, so that a split on whitespace keeps it whole too.
    private static string Applied(AppliedPatch patch) => patch.AppliedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private sealed record Row(string Patch, string State, string? Object, string? Function, string? Address, string? Replacement, string Applied, string? Note);
}
