using System.Globalization;
using Spectre.Console;

namespace Graft.Cli.Output;

/// <summary>
/// Where the command's result goes. On a terminal a person reads it: tables and emphasis, in colour
/// unless NO_COLOR is set, as wide as COLUMNS says (else the terminal's width). Anywhere else a script
/// reads it: <see cref="Plain"/> records, one per line, never wrapped and without escape codes.
/// </summary>
internal static class Terminal
{
    private static readonly Lazy<IAnsiConsole> StyledConsole = new(CreateStyled);

    /// <summary>Stdout is not a terminal: print <see cref="Plain"/> records.</summary>
    public static bool IsPlain => Console.IsOutputRedirected;

    /// <summary>The console tables and markup go to, configured from NO_COLOR and COLUMNS.</summary>
    public static IAnsiConsole Styled => StyledConsole.Value;

    private static IAnsiConsole CreateStyled()
    {
        // no-color.org: set and not empty means no escape codes at all, bold and underline included.
        var noColor = Environment.GetEnvironmentVariable("NO_COLOR") is { Length: > 0 };
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = noColor ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = noColor ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out var columns) && columns > 0)
        {
            console.Profile.Width = columns;
        }

        return console;
    }
}
