using Graft.Linux.Inspection;
using Graft.Model.State;
using Graft.Patching;
using Graft.Patching.Audit;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Daemon;

/// <summary>
/// Applies the host-wide patches: to every process that runs their code when graftd starts (as
/// kpatch.service loads its patches at boot), and to one process that starts, when its exec hook
/// asks. Each goes the normal way, as graft apply on the process's watch; a process that refuses
/// or fails is journaled and left as it was, and does not stop the others.
/// </summary>
internal sealed class HostWideApply(HostPatchList list, Watches watches, Action<string> journal)
{
    // Within the hook's wait (10 s, graft-hook.c), so that graftd's answer comes before the
    // process gives up and runs on unpatched.
    private const double HookTimeoutSeconds = 5;

    /// <summary>Every enabled patch to every process that runs its code, until <paramref name="stop"/>.</summary>
    public void Sweep(CancellationToken stop)
    {
        foreach (var entry in list.Entries)
        {
            try
            {
                var patch = Patcher.ReadPatch(entry.File);
                foreach (var process in HostTargets.ForPatch(patch, entry.Object).Processes.TakeWhile(_ => !stop.IsCancellationRequested))
                {
                    ApplyTo(process, entry, Patcher.DefaultTimeout.TotalSeconds);
                }
            }
            catch (GraftException e)
            {
                journal($"'{entry.Name}': not applied host-wide: {e.Message}");
            }
        }
    }

    /// <summary>The exec hook's request: every enabled patch whose object process <paramref name="pid"/> maps.</summary>
    public void ApplyTo(int pid)
    {
        if (HostProcesses.Of(pid) is not { } process)
        {
            return;
        }

        foreach (var entry in list.Entries)
        {
            try
            {
                if (HostTargets.RunningCodeOf(Patcher.ReadPatch(entry.File), entry.Object)(process))
                {
                    ApplyTo(process, entry, HookTimeoutSeconds);
                }
            }
            catch (GraftException e)
            {
                journal($"process {pid}: '{entry.Name}' not applied: {e.Message}");
            }
        }
    }

    /// <summary>
    /// The hook's request before a dlopen of process <paramref name="pid"/>: every enabled patch for a
    /// library. One the process does not map yet is applied pending, as for any patch whose library
    /// comes later: graftd holds the process for its loader and patches the library when the loader
    /// has mapped it, before its constructors run.
    /// </summary>
    public void ApplyForLoad(int pid)
    {
        if (HostProcesses.Of(pid) is not { } process)
        {
            return;
        }

        var held = list.Entries.Where(e => e.LoadableBuildIds is { Count: > 0 }).Select(e => ApplyTo(process, e, HookTimeoutSeconds)).ToList();

        // A child forked from a process that had them holds every patch, inherited, but not
        // graftd's hold on its loader: graftd lets children go. With no apply submitted, no
        // watch of its own was started to hold it.
        if (held.Count > 0 && held.All(h => h))
        {
            Hold(process);
        }
    }

    // Any operation on the process's watch: the watch, once attached, holds the loader of a
    // process whose record names a library not loaded yet (WatchedProcess.NeedsHolding). An
    // apply submitted (done or not) is such an operation already.
    private void Hold(HostProcess process)
    {
        try
        {
            var reply = watches.Submit(process.Pid, new ServiceRequest("status", process.Pid), _ => { }, progress: null, CancellationToken.None, _ => { });
            if (reply.Failure is not null)
            {
                journal($"process {process.Pid}: its loader not held: {reply.Error}");
            }
        }
        catch (GraftException e)
        {
            journal($"process {process.Pid}: its loader not held: {e.Message}");
        }
    }

    /// <summary>Applies the patch unless the process holds it already (then true: nothing was submitted).</summary>
    private bool ApplyTo(HostProcess process, EnabledPatch entry, double timeoutSeconds)
    {
        // Inherited from a patched parent, or applied by the sweep and the hook both.
        if (HostTargets.Holds(process, entry.Name, PatchPhase.Patched))
        {
            return true;
        }

        try
        {
            var reply = watches.Submit(process.Pid, new ServiceRequest("apply", process.Pid, Patch: entry.File, TimeoutSeconds: timeoutSeconds),
                _ => { }, progress: null, CancellationToken.None, record => journal($"audit: {record.Line(Requester.Self())}"));
            journal(reply.Failure is null
                ? $"process {process.Pid}: '{entry.Name}' applied host-wide"
                : $"process {process.Pid}: '{entry.Name}' not applied: {reply.Error}");
        }
        catch (GraftException e)
        {
            journal($"process {process.Pid}: '{entry.Name}' not applied: {e.Message}");
        }

        return false;
    }
}
