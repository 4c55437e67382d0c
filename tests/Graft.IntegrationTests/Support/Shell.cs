using System.Diagnostics;

namespace Graft.IntegrationTests.Support;

/// <summary>Runs a command to completion and captures what it printed.</summary>
internal static class Shell
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(string program, params string[] arguments) => Run(new Dictionary<string, string>(), program, arguments);

    public static Result Run(IReadOnlyDictionary<string, string> environment, string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return new Result(process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>The graft CLI as a separate process, as an operator runs it.</summary>
    public static Result Graft(params string[] arguments) =>
        Run(Published.Graft, arguments);

    /// <summary>The graft CLI talking to the graftd at <paramref name="socket"/>.</summary>
    public static Result GraftVia(string socket, params string[] arguments) =>
        Run(new Dictionary<string, string> { ["GRAFTD_SOCKET"] = socket }, Published.Graft, arguments);
}
