using System.Diagnostics;

namespace Graft.IntegrationTests.Support;

/// <summary>
/// A fixture program running detached (through setsid in a shell), so it is not this process's
/// child: .NET reaps its own children and would swallow a traced child's ptrace stops.
/// </summary>
internal sealed class RunningFixture : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private readonly string log;

    private RunningFixture(int pid, string log)
    {
        Pid = pid;
        this.log = log;
    }

    public int Pid { get; }

    /// <summary>The "ready" (or first "tick") line the program printed once it was set up.</summary>
    public string ReadyLine { get; private set; } = "";

    /// <summary>Starts a fixture of tests/fixtures/out by name.</summary>
    public static RunningFixture Start(string fixture, params string[] arguments) =>
        StartProgram(Repository.Fixture(fixture), arguments);

    /// <summary>Starts any program detached and waits for its "ready" or first "tick" line.</summary>
    public static RunningFixture StartProgram(string path, params string[] arguments)
    {
        var log = Path.Combine(Path.GetTempPath(), $"graft-test-{Path.GetFileName(path)}-{Guid.NewGuid():N}.log");
        var command = $"setsid {Quote(path)} {string.Join(' ', arguments.Select(Quote))} > {Quote(log)} 2>&1 < /dev/null & echo $!";
        var result = Shell.Run("/bin/sh", "-c", command);
        var running = new RunningFixture(int.Parse(result.Stdout.Trim()), log);
        try
        {
            running.ReadyLine = running.WaitForLine(l => l.StartsWith("ready", StringComparison.Ordinal) || l.StartsWith("tick", StringComparison.Ordinal), StartTimeout);
        }
        catch
        {
            running.Dispose();
            throw;
        }

        return running;
    }

    public IReadOnlyList<string> Lines()
    {
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd();
        return text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Waits for a line, printed after the first <paramref name="skip"/> lines, that matches.</summary>
    public string WaitForLine(Func<string, bool> match, TimeSpan timeout, int skip = 0)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (!IsAlive)
            {
                throw new InvalidOperationException($"fixture {Pid} exited; its output:\n{string.Join('\n', Lines().TakeLast(20))}");
            }

            if (Lines().Skip(skip).FirstOrDefault(match) is { } line)
            {
                return line;
            }

            Thread.Sleep(10);
        }

        throw new TimeoutException($"fixture {Pid} printed no matching line within {timeout}; its output ends:\n{string.Join('\n', Lines().TakeLast(20))}");
    }

    /// <summary>The next line from now on that matches.</summary>
    public string NextLine(Func<string, bool> match, TimeSpan? timeout = null) =>
        WaitForLine(match, timeout ?? TimeSpan.FromSeconds(10), Lines().Count);

    public bool IsAlive => File.Exists($"/proc/{Pid}/status") && !File.ReadAllText($"/proc/{Pid}/status").Contains("State:\tZ", StringComparison.Ordinal);

    public void Signal(string signal) => Shell.Run("kill", $"-{signal}", Pid.ToString());

    public void Dispose()
    {
        Signal("KILL");
        File.Delete(log);
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''") + "'";
}
