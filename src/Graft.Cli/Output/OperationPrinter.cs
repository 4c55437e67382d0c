using System.Text.Json;
using Graft.Patching;

namespace Graft.Cli.Output;

/// <summary>How apply, revert and continue report: one summary line, or JSON; a transition left in flight has its own exit code.</summary>
internal static class OperationPrinter
{
    /// <summary>Not a failure: the transition is in the target and a later graft continues or reverses it.</summary>
    public const int InFlightExitCode = 7;

    public static int Print(OperationReport report, string operation, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(Output(report, operation), CliJson.Default.OperationOutput));
        }
        else
        {
            Console.WriteLine($"{operation}: '{report.PatchName}' in process {report.Pid}: {Summary(report)}");
            if (report.InFlight is { } progress)
            {
                PrintProgress(progress);
                Console.WriteLine($"the transition stays in flight: 'graft continue {report.Pid}' resumes it, 'graft revert {report.Pid} {report.PatchName}' reverses it, --force forces it");
            }
        }

        return report.InFlight is null ? 0 : InFlightExitCode;
    }

    /// <summary>The --json document of one operation.</summary>
    public static OperationOutput Output(OperationReport report, string operation)
    {
        var statistics = report.Transition;
        var stops = report.Stops;
        return new OperationOutput(report.PatchName, report.Pid, operation, statistics.Model, report.InFlight is null ? "complete" : "in-flight",
            statistics.Attempts, stops.LongestStop.TotalMilliseconds, stops.LongestStopKind, stops.MostStoppedAtOnce, statistics.ThreadsMoved, statistics.SelfSwitched, statistics.SwitchedAsleep, stops.TrapsHandled,
            [.. stops.Kinds.Select(k => new StopsOutput(k.Kind, k.Count, k.Longest.TotalMilliseconds))],
            report.Functions, report.InFlight, report.Warnings);
    }

    /// <summary>What an operation changed and what it cost the threads, in a few words.</summary>
    public static string Summary(OperationReport report)
    {
        var statistics = report.Transition;
        var stops = report.Stops;
        var model = statistics.Model == ConsistencyModel.PerThread ? "per-thread" : "stop-world";
        return $"{report.Functions.Count} function(s), {model}, " +
            $"{statistics.Attempts} attempt(s), " + (statistics.SelfSwitched > 0 ? $"{statistics.SelfSwitched} thread(s) switched themselves, " : "") +
            (statistics.SwitchedAsleep > 0 ? $"{statistics.SwitchedAsleep} asleep switched with no stop, " : "") +
            $"a thread stopped for at most {stops.LongestStop.TotalMilliseconds:0.###} ms" +
            (stops.LongestStopKind is { } kind ? $" ({kind})" : "") + $", at most {stops.MostStoppedAtOnce} stopped at once";
    }

    public static void PrintProgress(TransitionProgress progress)
    {
        Console.WriteLine($"'{progress.Patch}': {(progress.Patching ? "patching" : "unpatching")} transition in flight, {progress.Switched} of {progress.Threads} threads switched");
        foreach (var thread in progress.Stuck)
        {
            Console.WriteLine($"  thread {thread.Tid} {thread.Reason}");
            foreach (var frame in thread.Stack)
            {
                Console.WriteLine($"    {frame}");
            }
        }
    }
}
