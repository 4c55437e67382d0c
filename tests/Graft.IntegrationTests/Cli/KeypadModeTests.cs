using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Cli;

/// <summary>
/// graft on a terminal writes its output and nothing else (issue 17): .NET's console, set up by the first write through
/// its own streams or the first read of Console.WindowWidth, wrote keypad transmit mode (ESC[?1h ESC=) ahead of every
/// command's output, where `script` and whoever reads a captured terminal saw it, and left the terminal in that mode.
/// </summary>
public sealed class KeypadModeTests
{
    private const string GraphicRendition = @"\u001b\[[0-9;]*m";

    // terminfo's keypad_xmit and keypad_local for xterm, each as its two sequences.
    private static readonly string[] KeypadSequences = ["\x1b[?1h", "\x1b=", "\x1b[?1l", "\x1b>"];

    /// <summary>Output of each kind: System.CommandLine's version and help, a table, a refusal, a command line graft cannot parse.</summary>
    [Theory]
    [InlineData("--version")]
    [InlineData("--help")]
    [InlineData("apply", "--help")]
    [InlineData("info", "{patch}")]
    [InlineData("info", "/nonexistent/fix.so")]
    [InlineData("lsit")]
    [InlineData("list")]
    public void NoCommandSwitchesTheTerminalsKeypadMode(params string[] arguments)
    {
        var terminal = Pty.Run(new Dictionary<string, string>(), 120, Published.Graft,
            [.. arguments.Select(argument => argument.Replace("{patch}", Repository.Patch("describe_new"), StringComparison.Ordinal))]);

        Assert.False(string.IsNullOrWhiteSpace(terminal.Stdout));
        AssertNoKeypadSequence(terminal.Stdout);
    }

    /// <summary>Colour is still there where it was (the patch's name in info), and apply and list print their result.</summary>
    [Fact]
    public void OnATerminalColourStaysAndApplyAndListPrintTheirResult()
    {
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();
        var patch = Repository.Patch("describe_new");

        var info = Pty.Run(new Dictionary<string, string>(), 120, Published.Graft, "info", patch);
        var apply = Pty.Run(new Dictionary<string, string>(), 120, Published.Graft, "apply", pid, patch);
        var list = Pty.Run(new Dictionary<string, string>(), 120, Published.Graft, "list", pid);

        Assert.Equal(0, info.ExitCode);
        Assert.Matches(GraphicRendition + "describe-new", info.Stdout);
        Assert.True(apply.ExitCode == 0, apply.Stdout);
        Assert.Contains("graft: 'describe-new': patching complete", apply.Stdout);
        Assert.Contains($"apply: 'describe-new' in process {pid}", apply.Stdout);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("describe-new", list.Stdout);
        Assert.All([info, apply, list], run => AssertNoKeypadSequence(run.Stdout));
    }

    /// <summary>Without COLUMNS a table is as wide as the terminal says it is (TIOCGWINSZ), as it is with COLUMNS.</summary>
    [Fact]
    public void WithoutColumnsATableIsAsWideAsTheTerminal()
    {
        var narrow = InfoOnTerminal(terminalColumns: 50, columns: null);
        var narrowByColumns = InfoOnTerminal(terminalColumns: 200, columns: 50);
        var wide = InfoOnTerminal(terminalColumns: 200, columns: null);

        Assert.Equal(narrowByColumns, narrow);
        Assert.All(narrow.Split("\r\n"), line => Assert.True(line.Length <= 50, line));
        Assert.NotEqual(wide, narrow);
        AssertNoKeypadSequence(narrow + wide);
    }

    /// <summary>A reader that is gone before graft writes (EPIPE) is no failure of graft, as with .NET's console streams.</summary>
    [Fact]
    public void APipeClosedBeforeGraftWritesIsNoFailure()
    {
        var piped = Shell.Run("/bin/bash", "-c", $"set -o pipefail; '{Published.Graft}' --help | true");

        Assert.True(piped.ExitCode == 0, piped.Stderr);
        Assert.Equal("", piped.Stderr);
    }

    /// <summary>graft info on a terminal of <paramref name="terminalColumns"/> (stty), COLUMNS set or not, without colour.</summary>
    private static string InfoOnTerminal(int terminalColumns, int? columns)
    {
        var environment = columns is { } value ? $"COLUMNS={value}" : "-u COLUMNS";
        var command = $"stty cols {terminalColumns} rows 30; env {environment} NO_COLOR=1 '{Published.Graft}' info '{Repository.Patch("describe_new")}'";
        var terminal = Shell.Run(new Dictionary<string, string> { ["TERM"] = "xterm" }, "script", "-qfec", command, "/dev/null");
        Assert.True(terminal.ExitCode == 0, terminal.Stdout);
        return terminal.Stdout;
    }

    private static void AssertNoKeypadSequence(string terminal) =>
        Assert.All(KeypadSequences, sequence => Assert.DoesNotContain(sequence, terminal, StringComparison.Ordinal));
}
