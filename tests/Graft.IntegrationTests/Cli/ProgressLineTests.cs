using System.Text.RegularExpressions;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Cli;

/// <summary>
/// The live line of apply, revert and continue on a terminal: drawn on stderr while a transition runs past half a
/// second, wiped before the result; never there for a pipe. The blocker's worker sits in slow_path, so the patch of
/// slow_path stays in flight until --timeout, with that worker stuck.
/// </summary>
public sealed partial class ProgressLineTests : IDisposable
{
    private const string Wipe = "\r\x1b[K";

    private readonly string directory = Directory.CreateTempSubdirectory("graft-progress-").FullName;

    private string Socket => Path.Combine(directory, "graftd.sock");

    [Fact]
    public void OnATerminalApplyShowsThreadsSwitchedOfTotalAndTheStuckThreadThenWipesTheLineAndAPipeGetsNoneOfIt()
    {
        using var blocker = RunningFixture.Start("blocker");
        var pid = blocker.Pid.ToString();
        // No graftd at this socket: graft runs the operation itself.
        var alone = new Dictionary<string, string> { ["GRAFTD_SOCKET"] = Socket };

        var onTerminal = Pty.Run(alone, 250, Published.Graft, "apply", pid, Repository.Patch("slow_path"), "--timeout", "2");

        Assert.True(onTerminal.ExitCode == 7, onTerminal.Stdout);
        AssertLineDrawnAndWiped(onTerminal.Stdout, $"apply: 'slow-path' in process {pid}");

        var piped = Shell.Run(alone, Published.Graft, "continue", pid, "--timeout", "2");

        Assert.Equal(7, piped.ExitCode);
        Assert.DoesNotContain(" s elapsed, ", piped.Stderr + piped.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\x1b", piped.Stderr + piped.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", piped.Stderr + piped.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void UnderGraftdTheLineComesFromGraftdsTransition()
    {
        using var blocker = RunningFixture.Start("blocker");
        using var graftd = GraftdProcess.Start(Socket, Path.Combine(directory, "graftd.journal"));
        var pid = blocker.Pid.ToString();

        var onTerminal = Pty.Run(new Dictionary<string, string> { ["GRAFTD_SOCKET"] = Socket }, 250, Published.Graft,
            "apply", pid, Repository.Patch("slow_path"), "--timeout", "2");

        Assert.True(onTerminal.ExitCode == 7, onTerminal.Stdout);
        AssertLineDrawnAndWiped(onTerminal.Stdout, $"apply: 'slow-path' in process {pid}");
        Assert.Contains("graft: 'slow-path': starting patching transition", onTerminal.Stdout);
    }

    [Fact]
    public void NoColorAndJsonDrawNoLine()
    {
        using var blocker = RunningFixture.Start("blocker");
        var pid = blocker.Pid.ToString();
        var noColor = new Dictionary<string, string> { ["GRAFTD_SOCKET"] = Socket, ["NO_COLOR"] = "1" };

        var apply = Pty.Run(noColor, 250, Published.Graft, "apply", pid, Repository.Patch("slow_path"), "--timeout", "1.5");
        var json = Pty.Run(new Dictionary<string, string> { ["GRAFTD_SOCKET"] = Socket }, 250, Published.Graft, "continue", pid, "--timeout", "1.5", "--json");

        Assert.True(apply.ExitCode == 7, apply.Stdout);
        Assert.Equal(7, json.ExitCode);
        Assert.DoesNotContain(" s elapsed, ", apply.Stdout + json.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(Wipe, apply.Stdout + json.Stdout, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>
    /// The line says how many threads switched of how many, that one is stuck in slow_path and by which thread, and
    /// the time left; the last one drawn is wiped, and <paramref name="result"/>, the summary on stdout, comes after it.
    /// </summary>
    private static void AssertLineDrawnAndWiped(string terminal, string result)
    {
        var lines = ProgressLine().Matches(terminal);
        Assert.True(lines.Count > 0, $"no progress line in:\n{terminal.Replace("\x1b", "\\e", StringComparison.Ordinal)}");
        var last = lines[^1];
        Assert.StartsWith(Wipe, terminal[(last.Index + last.Length)..], StringComparison.Ordinal);
        Assert.True(terminal.IndexOf(result, StringComparison.Ordinal) > last.Index, terminal);
    }

    [GeneratedRegex(@"\r\x1b\[Kgraft: patching 'slow-path': \d+ of \d+ threads switched, 1 stuck \(thread \d+ is running slow_path \([^\r\n]*\); \d+\.\d s elapsed, \d+\.\d s left")]
    private static partial Regex ProgressLine();
}
