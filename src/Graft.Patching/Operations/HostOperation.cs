using Graft.Linux.Inspection;
using Graft.Patching.Service;

namespace Graft.Patching.Operations;

/// <summary>
/// What one process of an operation by object came to: its report, the failure that stopped it,
/// or <see cref="AlreadyDone"/> (the patch was there already, e.g. inherited from its parent).
/// </summary>
public sealed record ProcessOutcome(int Pid, string Command, OperationReport? Report = null, GraftException? Failure = null, bool AlreadyDone = false);

/// <summary>
/// Runs one request on many processes of this host (graft apply --all, revert --all), each
/// through the one operation path (<see cref="Operation.Run"/>), one after another: a process
/// that refuses, fails or times out does not stop the others.
/// </summary>
public static class HostOperation
{
    // A process forked by one not yet done while the others were being done is found by the
    // next round; a host that forks matching processes faster than this is left to a later run.
    private const int MaxRounds = 5;

    /// <summary>
    /// Runs <paramref name="request"/> on every process <paramref name="select"/> returns, in its
    /// order (parents before children, so that a master patched first hands the patch to the
    /// workers it forks from then on), then selects again for processes that appeared meanwhile.
    /// <paramref name="alreadyDone"/> spares a process the attach. Stops after the operation an
    /// interruption (Ctrl-C) rolled back.
    /// </summary>
    public static IReadOnlyList<ProcessOutcome> Run(ServiceRequest request, Func<IReadOnlyList<HostProcess>> select, Func<HostProcess, bool> alreadyDone,
        Action<string> notice, Action<ProcessOutcome> reached, CancellationToken interruption)
    {
        Operation.RequirePrivilege(request.Command);
        var outcomes = new List<ProcessOutcome>();
        var seen = new HashSet<int>();
        for (var round = 0; round < MaxRounds; round++)
        {
            var fresh = Select(select, round).Where(p => !seen.Contains(p.Pid)).ToList();
            if (fresh.Count == 0)
            {
                break;
            }

            foreach (var process in fresh)
            {
                if (interruption.IsCancellationRequested)
                {
                    return outcomes;
                }

                seen.Add(process.Pid);
                var outcome = alreadyDone(process)
                    ? new ProcessOutcome(process.Pid, process.Command, AlreadyDone: true)
                    : RunOn(process, request with { Pid = process.Pid }, notice, interruption);
                outcomes.Add(outcome);
                reached(outcome);
            }
        }

        return outcomes;
    }

    /// <summary>
    /// The first selection refuses bad input before any process is touched; a later one that
    /// fails (the file --object names was replaced meanwhile) ends the rounds, keeping what was done.
    /// </summary>
    private static IReadOnlyList<HostProcess> Select(Func<IReadOnlyList<HostProcess>> select, int round)
    {
        try
        {
            return select();
        }
        catch (GraftException) when (round > 0)
        {
            return [];
        }
    }

    private static ProcessOutcome RunOn(HostProcess process, ServiceRequest request, Action<string> notice, CancellationToken interruption)
    {
        try
        {
            var reply = Operation.Run(request, text => notice($"process {process.Pid}: {text}"), progress: null, interruption);
            return new ProcessOutcome(process.Pid, process.Command, Report: reply.Report);
        }
        catch (GraftException e)
        {
            return new ProcessOutcome(process.Pid, process.Command, Failure: e);
        }
    }
}
