namespace Graft.IntegrationTests.Support;

/// <summary>
/// A command run on a pseudo-terminal, as an operator runs it at a terminal: util-linux's script gives it one for
/// stdin, stdout and stderr, and hands back everything it wrote, both streams in the order written (the terminal
/// turns each "\n" into "\r\n").
/// </summary>
internal static class Pty
{
    /// <summary>
    /// Runs <paramref name="program"/> on a terminal of <paramref name="columns"/> columns (TERM=xterm), with
    /// <paramref name="environment"/>, colour allowed unless it sets NO_COLOR; script -e passes the program's exit code on.
    /// </summary>
    public static Shell.Result Run(IReadOnlyDictionary<string, string> environment, int columns, string program, params string[] arguments)
    {
        var command = string.Join(' ', new[] { program }.Concat(arguments).Select(Quoted));
        var terminal = new Dictionary<string, string>(environment) { ["TERM"] = "xterm", ["COLUMNS"] = columns.ToString() };
        terminal.TryAdd("NO_COLOR", "");
        return Shell.Run(terminal, "script", "-qfec", command, "/dev/null");
    }

    private static string Quoted(string argument) => "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
