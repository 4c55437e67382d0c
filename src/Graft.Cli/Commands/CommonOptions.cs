using System.CommandLine;
using System.Runtime.InteropServices;
using Graft.Cli.Output;
using Graft.Linux.Inspection;
using Graft.Patching;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Cli.Commands;

/// <summary>Arguments and options several commands share, and the one place failures become exit codes.</summary>
internal static class CommonOptions
{
    public static Argument<int> Pid() => new("pid") { Description = "process id of the target" };

    public static Option<bool> Json() => new("--json") { Description = "print a JSON document for scripts instead of text" };

    public static Option<double> Timeout() => new("--timeout")
    {
        Description = "seconds to wait: per-thread, then the transition stays in flight; stop-world, then everything is rolled back",
        DefaultValueFactory = _ => Patcher.DefaultTimeout.TotalSeconds,
    };

    public static Option<string> Consistency() => new Option<string>("--consistency")
    {
        Description = "per-thread: threads switch one by one, each when its own stack is clean; stop-world: all at once",
        DefaultValueFactory = _ => "per-thread",
    }.AcceptOnlyFromAmong("per-thread", "stop-world");

    public static Option<bool> Force() => new("--force")
    {
        Description = "switch the threads still stuck when the timeout comes, consistency or not (the patch can then never be unloaded)",
    };

    public static ConsistencyModel Model(string? name) => name == "stop-world" ? ConsistencyModel.StopWorld : ConsistencyModel.PerThread;

    /// <summary>Runs a command body; a refusal or failure is one line on stderr and its exit code.</summary>
    public static int Run(Func<int> body) => Run(_ => body());

    /// <summary>
    /// Runs a command body that touches a process. SIGINT, SIGTERM and SIGHUP do not kill graft
    /// half-way: they interrupt the wait for a safe moment, and the operation rolls back.
    /// </summary>
    public static int Run(Func<CancellationToken, int> body)
    {
        using var interruption = new CancellationTokenSource();
        var registrations = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                interruption.Cancel();
            }))
            .ToList();
        try
        {
            return body(interruption.Token);
        }
        catch (GraftException e)
        {
            Console.Error.WriteLine($"graft: error: {Escaped.Line(e.Message)}");
            return (int)e.Failure;
        }
        finally
        {
            registrations.ForEach(r => r.Dispose());
        }
    }

    /// <summary>
    /// Runs an operation (<see cref="Operation"/>: in graftd when it runs, else here). Notices
    /// in the kernel's words go to stderr, so stdout stays the command's result.
    /// </summary>
    public static ServiceReply Operate(ServiceRequest request, CancellationToken interruption) =>
        Operation.Run(request, Notice, progress: null, interruption);

    /// <summary>
    /// Runs an operation that may run a transition (apply, revert, continue), as <see cref="Operate"/> does; on a
    /// terminal, unless <paramref name="json"/>, with a live line on stderr once it has run a while (<see cref="ProgressLine"/>).
    /// </summary>
    public static ServiceReply OperateShowingProgress(ServiceRequest request, bool json, CancellationToken interruption)
    {
        using var line = ProgressLine.TryStart(json);
        return line is null ? Operate(request, interruption) : Operation.Run(request, line.Above(Notice), line, interruption);
    }

    /// <summary>
    /// Runs an operation on every process <paramref name="select"/> finds (apply --all, revert
    /// --all; <see cref="HostOperation"/>): a line for each as it is done, then the summary, or
    /// one JSON document. Returns the exit code (<see cref="HostPrinter"/>).
    /// </summary>
    public static int OperateOnHost(ServiceRequest request, string patchName, Func<HostScan> select, Func<HostProcess, bool> alreadyDone, bool json,
        CancellationToken interruption)
    {
        var notInspected = 0;
        var outcomes = HostOperation.Run(request, () =>
        {
            var scan = select();
            notInspected = scan.Unreadable;
            return scan.Processes;
        }, alreadyDone, Notice, outcome =>
        {
            if (!json)
            {
                HostPrinter.Line(outcome, request.Command);
            }
        }, interruption);
        return HostPrinter.Finish(outcomes, request.Command, patchName, notInspected, interruption.IsCancellationRequested, json);
    }

    /// <summary>A notice, in the kernel's words, on stderr.</summary>
    public static void Notice(string text) => Console.Error.WriteLine($"graft: {Escaped.Line(text)}");
}
