using System.Globalization;
using System.Text.Json;
using Graft.Patching;

namespace Graft.Cli.Output;

/// <summary>How apply, revert and continue report: one summary line (a record when piped), or JSON; a transition left in flight has its own exit code.</summary>
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
        else if (Terminal.IsPlain)
        {
            var statistics = report.Transition;
            var stops = report.Stops;
            Plain.Record(operation, report.PatchName, report.Pid.ToString(CultureInfo.InvariantCulture), report.Functions.Count.ToString(CultureInfo.InvariantCulture),
                ModelName(statistics.Model), statistics.Attempts.ToString(CultureInfo.InvariantCulture),
                stops.LongestStop.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture), stops.LongestStopKind,
                stops.MostStoppedAtOnce.ToString(CultureInfo.InvariantCulture), report.InFlight is null ? "complete" : "in-flight");
            if (report.InFlight is { } progress)
            {
                PrintProgress(progress);
                Plain.Note(InFlightHint(report));
            }
        }
        else
        {
            Console.WriteLine($"{operation}: '{report.PatchName}' in process {report.Pid}: {Summary(report)}");
            if (report.InFlight is { } progress)
            {
                PrintProgress(progress);
                Console.WriteLine(InFlightHint(report));
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
            statistics.Attempts, stops.LongestStop.TotalMilliseconds, stops.LongestStopKind, stops.MostStoppedAtOnce, statistics.ThreadsMoved, statistics.SelfSwitched, statistics.SwitchedAsleep,
            statistics.Convergence?.TotalMilliseconds, stops.TrapsHandled,
            [.. stops.Kinds.Select(k => new StopsOutput(k.Kind, k.Count, k.Longest.TotalMilliseconds))],
            report.Functions, report.InFlight, report.Warnings, report.Sha256, report.Signer);
    }

    /// <summary>What an operation changed and what it cost the threads, in a few words.</summary>
    public static string Summary(OperationReport report)
    {
        var statistics = report.Transition;
        var stops = report.Stops;
        return $"{report.Functions.Count} function(s), {ModelName(statistics.Model)}, " +
            $"{statistics.Attempts} attempt(s), " + (statistics.SelfSwitched > 0 ? $"{statistics.SelfSwitched} thread(s) switched themselves, " : "") +
            (statistics.SwitchedAsleep > 0 ? $"{statistics.SwitchedAsleep} asleep switched with no stop, " : "") +
            (statistics.Convergence is { } converged ? $"every thread switched within {converged.TotalMilliseconds:0.###} ms of the entries' writing, " : "") +
            $"a thread stopped for at most {stops.LongestStop.TotalMilliseconds:0.###} ms" +
            (stops.LongestStopKind is { } kind ? $" ({kind})" : "") + $", at most {stops.MostStoppedAtOnce} stopped at once";
    }

    /// <summary>The transition in flight; as records: transition, then per stuck thread a stuck record and its frames, innermost first.</summary>
    public static void PrintProgress(TransitionProgress progress)
    {
        var direction = progress.Patching ? "patching" : "unpatching";
        if (Terminal.IsPlain)
        {
            Plain.Record("transition", progress.Patch, direction, progress.Switched.ToString(CultureInfo.InvariantCulture), progress.Threads.ToString(CultureInfo.InvariantCulture));
            foreach (var thread in progress.Stuck)
            {
                var tid = thread.Tid.ToString(CultureInfo.InvariantCulture);
                Plain.Record("stuck", tid, thread.Reason);
                foreach (var (frame, index) in thread.Stack.Select((f, i) => (f, i)))
                {
                    Plain.Record("frame", tid, index.ToString(CultureInfo.InvariantCulture), frame);
                }
            }

            return;
        }

        Console.WriteLine($"'{progress.Patch}': {direction} transition in flight, {progress.Switched} of {progress.Threads} threads switched");
        foreach (var thread in progress.Stuck)
        {
            Console.WriteLine($"  thread {thread.Tid} {thread.Reason}");
            foreach (var frame in thread.Stack)
            {
                Console.WriteLine($"    {frame}");
            }
        }
    }

    private static string ModelName(ConsistencyModel model) => model == ConsistencyModel.PerThread ? "per-thread" : "stop-world";

    private static string InFlightHint(OperationReport report) =>
        $"the transition stays in flight: 'graft continue {report.Pid}' resumes it, 'graft revert {report.Pid} {report.PatchName}' reverses it, --force forces it";
}
