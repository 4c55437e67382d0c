using System.Globalization;
using Graft.Linux.Interop;
using Graft.Linux.Terminals;
using Spectre.Console;

namespace Graft.Cli.Output;

/// <summary>
/// Where the command's result goes. On a terminal a person reads it: tables and emphasis, in colour
/// unless NO_COLOR is set, as wide as COLUMNS says (else the terminal's width). Anywhere else a script
/// reads it: <see cref="Plain"/> records, one per line, never wrapped and without escape codes.
/// Nothing here sets up System.Console's terminal handling (<see cref="UseOwnWriters"/>).
/// </summary>
internal static class Terminal
{
    public const int StandardOutput = 1;
    public const int StandardError = 2;

    private static readonly Lazy<IAnsiConsole> StyledConsole = new(CreateStyled);

    /// <summary>Stdout is not a terminal: print <see cref="Plain"/> records.</summary>
    public static bool IsPlain => Console.IsOutputRedirected;

    /// <summary>The console tables and markup go to, configured from NO_COLOR and COLUMNS.</summary>
    public static IAnsiConsole Styled => StyledConsole.Value;

    /// <summary>no-color.org: set and not empty means no escape codes at all, bold and underline included.</summary>
    public static bool NoColor => Environment.GetEnvironmentVariable("NO_COLOR") is { Length: > 0 };

    /// <summary>
    /// Makes Console.Out and Console.Error write to stdout and stderr with write(2); called before anything is printed.
    /// System.Console's own writers set the console up on their first write, and on a terminal that writes keypad
    /// transmit mode (ESC[?1h ESC=) ahead of graft's output, where a script that captures it finds it, and leaves
    /// the terminal in that mode after graft exits. So do Console.WindowWidth and Console.ForegroundColor: graft
    /// reads the width with <see cref="Width"/> and writes colour itself.
    /// </summary>
    public static void UseOwnWriters()
    {
        Console.SetOut(Writer(StandardOutput));
        Console.SetError(Writer(StandardError));
    }

    /// <summary>The columns of what is written to <paramref name="fd"/>: COLUMNS if set, else the terminal's width, else 80.</summary>
    public static int Width(int fd)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out var columns) && columns > 0)
        {
            return columns;
        }

        return SizeOf(fd)?.Columns ?? 80;
    }

    private static TerminalSize? SizeOf(int fd)
    {
        try
        {
            return TerminalSize.Of(fd);
        }
        catch (ErrnoException)
        {
            // A terminal that hung up: what is written there is lost anyway.
            return null;
        }
    }

    private static StreamWriter Writer(int fd) =>
        new(new DescriptorWriteStream(fd), Console.OutputEncoding) { AutoFlush = true };

    private static IAnsiConsole CreateStyled()
    {
        return AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = NoColor ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = NoColor ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Out = new SizedOutput(new AnsiConsoleOutput(Console.Out)),
        });
    }

    /// <summary>
    /// Spectre's output on stdout, with the terminal's size read by graft: Spectre's own reads Console.BufferWidth
    /// and Console.WindowHeight, which set the console up (<see cref="UseOwnWriters"/>).
    /// </summary>
    private sealed class SizedOutput(AnsiConsoleOutput output) : IAnsiConsoleOutput
    {
        public TextWriter Writer => output.Writer;

        public bool IsTerminal => output.IsTerminal;

        public int Width => Terminal.Width(StandardOutput);

        public int Height => SizeOf(StandardOutput) is { Rows: > 0 } size ? size.Rows : 24;

        public void SetEncoding(System.Text.Encoding encoding) => output.SetEncoding(encoding);
    }
}
