using System.CommandLine;
using Graft.Patching.Building;

namespace Graft.Cli.Commands;

/// <summary>graft build fix.c [more.c ...] -o fix.so [-- extra compiler flags]</summary>
internal static class BuildCommand
{
    public static Command Create()
    {
        var sources = new Argument<string[]>("sources") { Description = "C sources of the patch", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "the patch file to write", Required = true };
        var compiler = new Option<string>("--cc") { Description = "C compiler to run", DefaultValueFactory = _ => "cc" };
        var command = new Command("build", "build a patch from C with the flags and runtime it needs (extra compiler flags after --)")
        {
            sources, output, compiler,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(result => CommonOptions.Run(() =>
        {
            var messages = PatchBuilder.Default.Build(result.GetValue(sources)!, result.GetValue(output)!, result.UnmatchedTokens, result.GetValue(compiler)!);
            Console.Error.Write(messages);
            Console.WriteLine(result.GetValue(output));
            return 0;
        }));
        return command;
    }
}
