using System.CommandLine;
using System.Text.Json;
using Graft.Cli.Output;
using Graft.Patching;
using Graft.Patching.Building;
using Graft.Patching.Building.FromDiff;

namespace Graft.Cli.Commands;

/// <summary>
/// graft build fix.c [more.c ...] -o fix.so [-- extra compiler flags], or, from a source diff,
/// graft build --source DIR --diff FIX.patch --binary BIN -o fix.so [--build 'make ...'].
/// </summary>
internal static class BuildCommand
{
    public static Command Create()
    {
        var sources = new Argument<string[]>("sources") { Description = "C sources of the patch", Arity = ArgumentArity.ZeroOrMore };
        var output = new Option<string>("--output", "-o") { Description = "the patch file to write", Required = true };
        var compiler = new Option<string>("--cc") { Description = "C compiler to run", DefaultValueFactory = _ => "cc" };
        var source = new Option<string>("--source") { Description = "with --diff: the source tree the binary was built from" };
        var diff = new Option<string>("--diff") { Description = "build the patch from this diff of --source (patch -p1)" };
        var binary = new Option<string>("--binary") { Description = "with --diff: the executable or library the patch is for" };
        var buildCommand = new Option<string>("--build") { Description = "with --diff: the command that builds --source, run in a copy of it", DefaultValueFactory = _ => "make" };
        var name = new Option<string>("--name") { Description = "with --diff: the patch's name (default: the output file's name)" };
        var callbacks = new Option<string>("--callbacks") { Description = "with --diff: a C file linked into the patch that may define pre_patch, post_patch, pre_unpatch, post_unpatch and use shadow variables" };
        var json = CommonOptions.Json();
        var command = new Command("build", "build a patch from C with the flags and runtime it needs (extra compiler flags after --), or from a source diff")
        {
            sources, output, compiler, source, diff, binary, buildCommand, name, callbacks, json,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(result => CommonOptions.Run(() =>
        {
            if (result.GetValue(diff) is { } diffFile)
            {
                var report = new DiffPatchBuilder(PatchBuilder.Default).Build(
                    result.GetValue(source) ?? throw Usage("--diff needs --source"),
                    diffFile,
                    result.GetValue(binary) ?? throw Usage("--diff needs --binary"),
                    result.GetValue(output)!,
                    result.GetValue(buildCommand)!,
                    result.GetValue(name),
                    result.GetValue(callbacks));
                Print(report, result.GetValue(json));
                return 0;
            }

            if (result.GetValue(callbacks) is not null)
            {
                throw Usage("--callbacks goes with --diff; without it, name the file among the patch's sources");
            }

            var files = result.GetValue(sources) is { Length: > 0 } given ? given : throw Usage("give the patch's C sources, or --diff");
            var messages = PatchBuilder.Default.Build(files, result.GetValue(output)!, result.UnmatchedTokens, result.GetValue(compiler)!);
            Console.Error.Write(messages);
            Console.WriteLine(result.GetValue(output));
            return 0;
        }));
        return command;
    }

    private static void Print(DiffBuildReport report, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(report, CliJson.Default.DiffBuildReport));
            return;
        }

        Console.Error.WriteLine($"graft: build: patch '{report.Name}' for {report.Binary} (build-id {report.BinaryBuildId ?? "none"})");
        foreach (var function in report.Functions)
        {
            var verdict = function.Change switch
            {
                FunctionChange.Changed => "replaced",
                FunctionChange.New => "added",
                FunctionChange.LinesMoved => "kept",
                _ => "carried",
            };
            Console.Error.WriteLine($"graft: build: {function.Object}: {function.Name}: {verdict}: {function.Reason}");
        }

        foreach (var data in report.NewData)
        {
            Console.Error.WriteLine($"graft: build: new variable {data}: carried by the patch");
        }

        foreach (var used in report.UsesFromBinary)
        {
            Console.Error.WriteLine($"graft: build: uses {used} of the binary");
        }

        Console.WriteLine(report.Patch);
    }

    private static GraftException Usage(string message) => new(GraftFailure.Internal, message);
}
