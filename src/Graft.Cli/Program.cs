using System.CommandLine;
using Graft.Cli.Commands;

namespace Graft.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        var root = new RootCommand("graft: live patching for running Linux x86-64 processes")
        {
            BuildCommand.Create(),
            InfoCommand.Create(),
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
        return root.Parse(args).Invoke();
    }
}
