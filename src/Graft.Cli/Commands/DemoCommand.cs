using System.CommandLine;
using Graft.Cli.Demo;

namespace Graft.Cli.Commands;

/// <summary>graft demo: a bundled service patched and reverted live.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var seconds = new Option<double>("--phase") { Description = "seconds of service output shown per phase", DefaultValueFactory = _ => 1.5 };
        var command = new Command("demo", "start a small service, patch it live, revert, clean up") { seconds };
        command.SetAction(result => CommonOptions.Run(() =>
        {
            using var demo = new DemoRun(TimeSpan.FromSeconds(result.GetValue(seconds)));
            return demo.Run();
        }));
        return command;
    }
}
