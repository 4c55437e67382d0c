using System.Diagnostics;

namespace Graft.IntegrationTests.Support;

/// <summary>The real graftd, started as an operator (or systemd) would, on a socket and journal of its own.</summary>
internal sealed class GraftdProcess : IDisposable
{
    private readonly Process process;

    private GraftdProcess(Process process, string journal)
    {
        this.process = process;
        Journal = journal;
    }

    public string Journal { get; }

    /// <summary>
    /// Starts graftd (with <paramref name="options"/> besides its socket and journal) and waits until it listens on
    /// <paramref name="socket"/>. Its host-wide list, hook file and hook socket are beside the journal unless the
    /// options say otherwise: a test's graftd leaves the host's /var/lib/graft and /run/graft alone.
    /// </summary>
    public static GraftdProcess Start(string socket, string journal, params string[] options)
    {
        var start = StartInfo(socket, journal, options);
        var earlier = File.Exists(journal) ? File.ReadAllLines(journal).Length : 0;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var graftd = new GraftdProcess(process, journal);
        graftd.WaitForJournal(l => l.Contains($"listening on {socket}", StringComparison.Ordinal), TimeSpan.FromSeconds(30), earlier);
        return graftd;
    }

    /// <summary>
    /// Runs a graftd (arguments as <see cref="Start"/> takes them) that is expected to stop by itself, as one refused
    /// at start does: its exit code and what it printed. One still running after 30 s is killed, and fails the test.
    /// </summary>
    public static Shell.Result RunToExit(string socket, string journal, params string[] options)
    {
        using var process = Process.Start(StartInfo(socket, journal, options))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
            process.WaitForExit();
            Assert.Fail($"graftd was expected to stop at once, and still ran after 30 s:\n{stdout.Result}");
        }

        return new Shell.Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    public int Pid => process.Id;

    private static ProcessStartInfo StartInfo(string socket, string journal, string[] options)
    {
        var start = new ProcessStartInfo(Published.Graftd) { RedirectStandardOutput = true, RedirectStandardError = true };
        var beside = Path.GetDirectoryName(Path.GetFullPath(journal))!;
        var privateDefaults = new[] { ("--state", "state"), ("--hook-file", "exec-hook"), ("--hook-socket", "hook.sock") }
            .Where(d => !options.Contains(d.Item1))
            .SelectMany(d => new[] { d.Item1, Path.Combine(beside, d.Item2) });
        foreach (var argument in new[] { "--socket", socket, "--journal", journal }.Concat(privateDefaults).Concat(options))
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <summary>Waits for a journal line, after the first <paramref name="skip"/>, that matches.</summary>
    public string WaitForJournal(Func<string, bool> match, TimeSpan timeout, int skip = 0)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (File.Exists(Journal) && ReadJournal().Skip(skip).FirstOrDefault(match) is { } line)
            {
                return line;
            }

            Assert.False(process.HasExited, $"graftd exited with {(process.HasExited ? process.ExitCode : 0)}");
            Thread.Sleep(20);
        }

        throw new TimeoutException($"graftd's journal has no matching line after {timeout}:\n{string.Join('\n', ReadJournal().TakeLast(20))}");
    }

    public IReadOnlyList<string> ReadJournal()
    {
        using var stream = new FileStream(Journal, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>SIGTERM, as systemd stops it: graftd releases every process and exits 0.</summary>
    public int Stop()
    {
        Shell.Run("kill", "-TERM", process.Id.ToString());
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "graftd did not stop within 30 s of SIGTERM");
        return process.ExitCode;
    }

    /// <summary>Sends graftd a signal (by name: STOP, CONT).</summary>
    public void Signal(string name) => Shell.Run("kill", $"-{name}", process.Id.ToString());

    /// <summary>SIGKILL: what a crash leaves.</summary>
    public void Kill()
    {
        process.Kill();
        process.WaitForExit();
    }

    /// <summary>SIGKILL, if still running: what a crash leaves.</summary>
    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit();
        }

        process.Dispose();
    }
}
