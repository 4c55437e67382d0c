using System.Text.Json;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.Cli.Output;

/// <summary>
/// How apply --all and revert --all report: one line per process as each is done, then a summary;
/// or one JSON document. The exit code is 0 only when every process ended as asked.
/// </summary>
internal static class HostPrinter
{
    /// <summary>Some process did not end as asked: its line (and --json) gives its own exit code and why.</summary>
    public const int SomeFailedExitCode = 10;

    public static void Line(ProcessOutcome outcome, string operation)
    {
        var (word, code, _) = Classify(outcome, operation);
        var detail = outcome switch
        {
            { Report: { InFlight: null } report } => $" '{report.PatchName}': {OperationPrinter.Summary(report)}",
            { Report: { } report } => $" '{report.PatchName}': 'graft continue {outcome.Pid}' resumes it, 'graft status {outcome.Pid}' shows who holds it",
            { Failure: { } failure } => $" (exit code {code}): {Escaped.Line(failure.Message)}",
            _ => "",
        };
        Console.WriteLine($"process {outcome.Pid} ({Escaped.Line(outcome.Command)}): {word}{detail}");
    }

    /// <summary>Prints the summary (or the JSON document) and returns the command's exit code.</summary>
    public static int Finish(IReadOnlyList<ProcessOutcome> outcomes, string operation, string patchName, int notInspected, bool interrupted, bool json)
    {
        var classified = outcomes.Select(o => (Outcome: o, Class: Classify(o, operation))).ToList();
        var failed = classified.Count(c => !c.Class.Succeeded);
        if (json)
        {
            var processes = classified.Select(c => new ProcessOutput(c.Outcome.Pid, c.Outcome.Command, c.Class.Word, c.Class.ExitCode,
                c.Outcome.Failure?.Message, c.Outcome.Report is { } report ? OperationPrinter.Output(report, operation) : null)).ToList();
            Console.WriteLine(JsonSerializer.Serialize(new HostOutput(operation, patchName, processes, outcomes.Count - failed, failed, notInspected, interrupted),
                CliJson.Default.HostOutput));
        }
        else
        {
            var counts = classified.GroupBy(c => c.Class.Word).Select(g => $"{g.Count()} {g.Key}");
            Console.WriteLine($"{operation} '{Escaped.Line(patchName)}': {outcomes.Count} process(es)" + (outcomes.Count > 0 ? $": {string.Join(", ", counts)}" : "") +
                (notInspected > 0 ? $"; {notInspected} process(es) not inspected (this user may not read their memory maps)" : "") +
                (interrupted ? "; interrupted, the processes after the last line were not attempted" : ""));
        }

        return failed > 0 || interrupted ? SomeFailedExitCode : 0;
    }

    /// <summary>
    /// What a process came to, its own exit code, and whether that is what was asked: done, already
    /// done, or exited meanwhile (no code of it is left to change) count as success.
    /// </summary>
    private static (string Word, int ExitCode, bool Succeeded) Classify(ProcessOutcome outcome, string operation) => outcome switch
    {
        { AlreadyDone: true } => ($"already {Done(operation)}", 0, true),
        { Report.InFlight: null } => (Done(operation), 0, true),
        { Report: not null } => ("in flight", OperationPrinter.InFlightExitCode, false),
        { Failure.Failure: GraftFailure.TargetGone } => ("exited", (int)GraftFailure.TargetGone, true),
        { Failure: { } failure } => ("failed", (int)failure.Failure, false),
        _ => ("failed", (int)GraftFailure.Internal, false),
    };

    private static string Done(string operation) => operation == "apply" ? "applied" : "reverted";
}
