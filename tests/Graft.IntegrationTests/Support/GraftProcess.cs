using System.Diagnostics;

namespace Graft.IntegrationTests.Support;

/// <summary>The graft CLI run as a child process that a test acts upon while it runs (signals, kill).</summary>
internal static class GraftProcess
{
    public sealed record Result(int ExitCode, IReadOnlyList<string> Stderr);

    /// <summary>
    /// Runs graft (through the graftd listening on <paramref name="socket"/>, if given); the first
    /// time a line of its stderr matches <paramref name="when"/>, calls <paramref name="act"/> on it.
    /// </summary>
    public static Result Run(string[] arguments, Func<string, bool> when, Action<Process> act, string? socket = null)
    {
        // A test run started in the background of a non-interactive shell inherits SIGINT
        // ignored, and .NET leaves a signal ignored at startup ignored: graft would never see
        // the operator's Ctrl-C the tests send. An operator's terminal does not do that.
        var start = new ProcessStartInfo("env") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("--default-signal=INT,TERM,HUP");
        if (socket is not null)
        {
            start.ArgumentList.Add($"GRAFTD_SOCKET={socket}");
        }

        start.ArgumentList.Add(Published.Graft);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var graft = Process.Start(start)!;
        var stderr = new List<string>();
        var acted = false;
        while (graft.StandardError.ReadLine() is { } line)
        {
            stderr.Add(line);
            if (!acted && when(line))
            {
                acted = true;
                act(graft);
            }
        }

        graft.WaitForExit();
        Assert.True(acted, $"graft never printed the awaited line; its stderr:\n{string.Join('\n', stderr)}");
        return new Result(graft.ExitCode, stderr);
    }
}
