using Graft.Linux.Interop;
using Graft.Linux.Seccomp;
using Graft.Linux.Tracing;

namespace Graft.Patching.Target;

/// <summary>
/// Refuses a process whose seccomp state would kill or fail a thread at one of the system
/// calls Graft makes in it (<see cref="SeccompCalls"/>), before anything is written into it.
/// Seccomp state belongs to each thread and Graft may run its calls on any of them, so every
/// thread is checked: strict mode is refused outright; filters are read (each thread stopped
/// for that moment) and run on every call. Threads with seccomp off cost one /proc read each.
/// </summary>
internal static class SeccompCheck
{
    public static void Run(TargetProcess target)
    {
        // Threads mostly share their filters: each distinct set is evaluated once.
        var verdicts = new Dictionary<string, (SeccompCall Call, SeccompResult Result)?>();
        target.UnderSeccompFilter = null;
        var filtered = false;
        foreach (var tid in target.ThreadIds.Order().ToList())
        {
            switch (SeccompStatus.Read(target.Pid, tid))
            {
                case SeccompMode.Strict:
                    var first = SeccompCalls.All[0];
                    throw new GraftException(GraftFailure.Refused,
                        $"process {target.Pid}: thread {tid} is in seccomp strict mode, which would kill it at {first.Name} (SECCOMP_MODE_STRICT); graft needs {first.Name} {first.Purpose}");
                case SeccompMode.Filter:
                    filtered = true;
                    var filters = Filters(target, tid);
                    if (filters is null)
                    {
                        continue;
                    }

                    var key = string.Join('|', filters);
                    if (!verdicts.TryGetValue(key, out var verdict))
                    {
                        verdict = verdicts[key] = FirstRefused(target.Pid, tid, filters);
                    }

                    if (verdict is { Call: var call, Result: var result })
                    {
                        throw new GraftException(GraftFailure.Refused,
                            $"process {target.Pid}: thread {tid}'s seccomp filter would {Effect(call, result)} ({result.ActionName}); graft needs {call.Name} {call.Purpose}");
                    }

                    break;
            }
        }

        target.UnderSeccompFilter = filtered;
    }

    /// <summary>The thread's filters, read while it is stopped; null if it exited meanwhile.</summary>
    private static IReadOnlyList<SeccompFilter>? Filters(TargetProcess target, int tid)
    {
        using var stopped = target.TryStop(tid, StopPurposes.SeccompCheck);
        if (stopped is null)
        {
            return null;
        }

        try
        {
            return target.SeccompFilters(tid);
        }
        catch (TargetGoneException)
        {
            return null;
        }
        catch (ErrnoException e)
        {
            var why = e.Errno switch
            {
                Errno.EACCES => ": reading them needs CAP_SYS_ADMIN, and a graft not under seccomp itself",
                Errno.EIO => ": the kernel lacks CONFIG_CHECKPOINT_RESTORE",
                _ => "",
            };
            throw new GraftException(GraftFailure.Refused,
                $"process {target.Pid}: cannot read the seccomp filters of thread {tid} ({e.Message}){why}; graft does not patch a process whose filters it cannot check", e);
        }
    }

    private static (SeccompCall, SeccompResult)? FirstRefused(int pid, int tid, IReadOnlyList<SeccompFilter> filters)
    {
        foreach (var call in SeccompCalls.All)
        {
            SeccompResult result;
            try
            {
                result = SeccompFilter.Run(filters, call.Data);
            }
            catch (SeccompEvaluationException e)
            {
                throw new GraftException(GraftFailure.Refused,
                    $"process {pid}: cannot evaluate the seccomp filters of thread {tid}: {e.Message}; graft does not patch a process whose filters it cannot check", e);
            }

            if (!call.Accepts(result))
            {
                return (call, result);
            }
        }

        return null;
    }

    private static string Effect(SeccompCall call, SeccompResult result) => result.Action switch
    {
        SeccompAction.KillProcess or SeccompAction.KillThread => $"kill it at {call.Name}",
        SeccompAction.Trap => $"send it SIGSYS at {call.Name}",
        SeccompAction.Errno => $"fail {call.Name} with {Errno.Name(result.Data)}",
        SeccompAction.Trace => $"fail {call.Name} with ENOSYS (no seccomp tracer while graft traces it)",
        _ => $"hand {call.Name} to its seccomp supervisor",
    };
}
