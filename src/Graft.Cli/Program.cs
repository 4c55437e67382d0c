using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Graft.Cli.Commands;
using Graft.Cli.Output;

// Process tracing, Unix sockets and file modes: graft runs on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Graft.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Terminal.UseOwnWriters();
        var root = new RootCommand("graft: live patching for running Linux x86-64 processes")
        {
            BuildCommand.Create(),
            InfoCommand.Create(),
            SignCommand.Create(),
            AnalyzeCommand.Create(),
            ApplyCommand.Create(),
            RevertCommand.Create(),
            UnloadCommand.Create(),
            ContinueCommand.Create(),
            EnableCommand.Create(),
            DisableCommand.Create(),
            StatusCommand.Create(),
            ListCommand.Create(),
            DemoCommand.Create(),
        };

        // The root's help option serves every command. Left alone, it reads Console.WindowWidth (Terminal.UseOwnWriters).
        var help = (HelpAction)root.Options.OfType<HelpOption>().Single().Action!;
        help.MaxWidth = Terminal.IsPlain ? int.MaxValue : Terminal.Width(Terminal.StandardOutput);

        var result = root.Parse(args);
        if (result.Action is ParseErrorAction)
        {
            return CommandLineFailures.ParseFailed(result, help);
        }

        try
        {
            return result.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return CommandLineFailures.Crashed(e);
        }
    }
}
