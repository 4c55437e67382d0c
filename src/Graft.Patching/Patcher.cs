using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;
using Graft.Linux.Trust;
using Graft.Model;
using Graft.Model.Patches;
using Graft.Model.State;
using Graft.Patching.Loading;
using Graft.Patching.Target;
using Graft.Patching.Transition;

namespace Graft.Patching;

/// <summary>
/// The operations on a live process: apply a patch, revert it, list what is applied. Each runs
/// whole on one ptrace thread and leaves the process as it found it when it fails.
/// </summary>
public sealed partial class Patcher(Action<string> notice)
{
    private readonly WatchedProcess? watched;

    /// <summary>Operations on a process graftd holds: no attaching of their own, and libraries followed as they load.</summary>
    internal Patcher(Action<string> notice, WatchedProcess watched)
        : this(notice)
    {
        this.watched = watched;
    }

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    /// <summary>How long graft stays attached after an operation, serving the threads and watching for a fatal signal.</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(100);

    /// <summary>The largest patch file graft reads: far above any real patch, far below what would exhaust memory.</summary>
    public const long MaxPatchBytes = 256L << 20;

    /// <summary>
    /// Opens a patch file once, checks it (<see cref="CheckedFile"/>) and parses its descriptor from
    /// the bytes read; those bytes are what the target loads. A bad file is refused with a <see cref="GraftException"/>.
    /// </summary>
    public static PatchDefinition ReadPatch(string path)
    {
        try
        {
            return PatchFile.Parse(path, CheckedFile.Read(path, MaxPatchBytes).Bytes);
        }
        catch (Exception e) when (e is PatchFormatException or UntrustedFileException)
        {
            throw new GraftException(GraftFailure.Refused, e.Message, e);
        }
    }

    /// <summary>The patches applied to a process, read from its state record without stopping it.</summary>
    public static TargetState List(int pid)
    {
        return Translate(pid, () =>
        {
            using var memory = new RemoteMemory(pid);
            var store = new StateStore(ModuleMap.Read(pid, memory), memory, pid);
            return store.Read();
        });
    }

    private T OnTarget<T>(int pid, Func<TargetProcess, T> work)
    {
        return watched is not null
            ? Translate(pid, () => watched.Run(pid, Settled))
            : Translate(pid, () => PtraceThread.Run(() =>
            {
                using var target = TargetProcess.Attach(pid);
                return Settled(target);
            }));

        // Exit 0 says the target runs the new code and is alive: a replacement that faults at once is caught here,
        // as a fatal signal reported with where it struck, instead of a moment after graft has gone.
        T Settled(TargetProcess target)
        {
            var result = work(target);
            target.Tracee.Pump(SettleTime);
            return result;
        }
    }

    /// <summary>Turns the lower layers' exceptions into the operator's one-line errors.</summary>
    internal static T Translate<T>(int pid, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (TargetGoneException e)
        {
            throw new GraftException(GraftFailure.TargetGone, e.Message, e);
        }
        catch (TargetCrashedException e)
        {
            throw new GraftException(GraftFailure.TargetCrashed, e.Message, e);
        }
        catch (TargetStoppedException e)
        {
            throw new GraftException(GraftFailure.Refused, e.Message, e);
        }
        catch (ThreadUnresponsiveException e)
        {
            throw new GraftException(GraftFailure.Timeout, $"{e.Message}; everything was rolled back", e);
        }
        catch (Exception e) when (e is InjectionException or RemoteMemoryException or ErrnoException or StateFormatException)
        {
            throw new GraftException(GraftFailure.Internal, $"process {pid}: {e.Message}", e);
        }
    }

    /// <summary>
    /// An operation that runs code in the target refuses a process stopped by job control before
    /// it changes anything: its threads would run graft's code while the process is meant to be
    /// still, and whoever stopped it expects to find it as it was.
    /// </summary>
    private static void RefuseIfStopped(TargetProcess target)
    {
        if (target.Tracee.IsJobControlStopped())
        {
            throw new TargetStoppedException(target.Pid);
        }
    }

    private void Notice(string text) => notice(text);
}
