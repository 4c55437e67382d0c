using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Graft.Cli.Output;

/// <summary>
/// What graft prints when it cannot run a command: a command line it cannot parse, an exception no command caught.
/// System.CommandLine prints the same, but colours it with Console.ForegroundColor, on stdout whatever stream the text
/// goes to, and that sets the console up (<see cref="Terminal.UseOwnWriters"/>). Here the red goes with the text, on
/// stderr, where stderr is a terminal and NO_COLOR is not set.
/// </summary>
internal static class CommandLineFailures
{
    /// <summary>
    /// What ParseErrorAction prints: the names near a mistyped one (<see cref="Suggestions"/>), the errors, an empty
    /// line, and the help of the command. Exit code 1, as there.
    /// </summary>
    public static int ParseFailed(ParseResult result, HelpAction help)
    {
        foreach (var token in result.UnmatchedTokens)
        {
            if (Suggestions.For(token, result.CommandResult.Command) is { Count: > 0 } near)
            {
                Console.Error.WriteLine($"'{token}' was not matched. Did you mean one of the following?");
                Console.Error.WriteLine(string.Join(Environment.NewLine, near));
                Console.Error.WriteLine();
            }
        }

        Console.Error.WriteLine(Red(string.Join(Environment.NewLine, result.Errors.Select(error => error.Message))));
        Console.Error.WriteLine();
        help.Invoke(result);
        return 1;
    }

    /// <summary>What System.CommandLine's default exception handler prints (nothing for a cancellation), and its exit code 1.</summary>
    public static int Crashed(Exception exception)
    {
        if (exception is not OperationCanceledException)
        {
            Console.Error.WriteLine(Red($"Unhandled exception: {exception}"));
        }

        return 1;
    }

    // SGR 31, then 39 (the default foreground): every terminal graft draws on knows both.
    private static string Red(string text) =>
        Console.IsErrorRedirected || Terminal.NoColor ? text : $"\x1b[31m{text}\x1b[39m";
}
