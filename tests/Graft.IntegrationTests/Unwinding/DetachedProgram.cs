using System.Diagnostics;
using System.Globalization;

using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Unwinding;

/// <summary>
/// A program the test built, started detached as RunningFixture starts the fixtures (which it
/// finds by name in tests/fixtures/out only), and killed on dispose.
/// </summary>
internal sealed class DetachedProgram : IDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(20);

    private DetachedProgram(int pid, string readyLine)
    {
        Pid = pid;
        ReadyLine = readyLine;
    }

    public int Pid { get; }

    /// <summary>The line starting with "ready" that the program prints when it is set up.</summary>
    public string ReadyLine { get; }

    /// <summary>Starts the program, its output going to <paramref name="path"/>.log, and waits for its ready line.</summary>
    public static DetachedProgram Start(string path)
    {
        var log = path + ".log";
        var started = Shell.Run("/bin/sh", "-c", $"setsid '{path}' > '{log}' 2>&1 < /dev/null & echo $!");
        var pid = int.Parse(started.Stdout.Trim(), CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ReadyTimeout && Directory.Exists($"/proc/{pid}"))
        {
            using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var lines = new StreamReader(stream).ReadToEnd().Split('\n');
            if (lines.SkipLast(1).FirstOrDefault(line => line.StartsWith("ready", StringComparison.Ordinal)) is { } ready)
            {
                return new DetachedProgram(pid, ready);
            }

            Thread.Sleep(10);
        }

        Shell.Run("kill", "-KILL", pid.ToString(CultureInfo.InvariantCulture));
        throw new TimeoutException($"{path} did not print its ready line within {ReadyTimeout}; its output:\n{File.ReadAllText(log)}");
    }

    public void Dispose() => Shell.Run("kill", "-KILL", Pid.ToString(CultureInfo.InvariantCulture));
}
