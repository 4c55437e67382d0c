using System.Diagnostics;
using System.Globalization;

using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Unwinding;

/// <summary>
/// Freezes a whole process with SIGSTOP, so that two tools attaching one after the other see
/// every thread, busy ones included, at the same instruction.
/// </summary>
internal static class JobControl
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    public static IReadOnlyList<int> Threads(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task").Select(d => int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture)).Order().ToList();

    /// <summary>Sends SIGSTOP and waits until every thread is in group-stop.</summary>
    public static void Stop(RunningFixture fixture)
    {
        fixture.Signal("STOP");
        AwaitGroupStop(fixture.Pid, "SIGSTOP");
    }

    /// <summary>Waits until every thread is in group-stop: state 'T' in /proc, not a ptrace stop ('t') nor running.</summary>
    public static void AwaitGroupStop(int pid, string after)
    {
        var clock = Stopwatch.StartNew();
        while (Threads(pid).Where(tid => State(pid, tid) != 'T').ToList() is { Count: > 0 } notStopped)
        {
            if (clock.Elapsed > StopTimeout)
            {
                throw new TimeoutException($"threads {string.Join(", ", notStopped)} of process {pid} are not job-control stopped {StopTimeout} after {after}");
            }

            Thread.Sleep(1);
        }
    }

    private static char State(int pid, int tid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/task/{tid}/stat");
        return stat[stat.LastIndexOf(')') + 2];
    }
}
