using Graft.Linux.Tracing;
using Graft.Model.State;
using Graft.Patching.Libraries;
using Graft.Patching.Operations;
using Graft.Patching.Target;

namespace Graft.Patching.Service;

/// <summary>
/// A process graftd holds for as long as it has patches: attached once, with the dynamic
/// linker watched so that libraries that come and go get the patches (see LibraryWatch), and every
/// operation run on this one attachment. All of it must be used from the thread that called
/// <see cref="Attach"/>, which ptrace ties the attachment to.
/// </summary>
public sealed class WatchedProcess : IDisposable
{
    private readonly TargetProcess target;
    private readonly LibraryWatch? libraries;

    private WatchedProcess(TargetProcess target, Action<string> notice, DetachedLoaderWatch? detached)
    {
        this.target = target;
        try
        {
            libraries = LibraryWatch.Start(target, notice, detached);
        }
        catch
        {
            // A stub waiting for graftd's answer reads the end of the socket and goes on.
            detached?.Dispose();
            target.Dispose();
            throw;
        }
    }

    public int Pid => target.Pid;

    /// <summary>
    /// Attaches to the process and starts watching its loader; <paramref name="notice"/> hears of
    /// every library event. <paramref name="detached"/> is what graftd kept when it last detached
    /// from the process with its loader stub left calling back (<see cref="TryDetach"/>); it is
    /// taken back here, or closed if the process no longer fits it.
    /// </summary>
    public static WatchedProcess Attach(int pid, Action<string> notice, DetachedLoaderWatch? detached = null)
    {
        TargetProcess target;
        try
        {
            target = OperatorErrors.Run(pid, () => TargetProcess.Attach(pid));
        }
        catch
        {
            detached?.Dispose();
            throw;
        }

        return OperatorErrors.Run(pid, () => new WatchedProcess(target, notice, detached));
    }

    /// <summary>
    /// Leaves the loader to the stub, which calls graftd back at each event graftd wants, so that
    /// graftd can stop tracing a process it must still watch: signals then cost the process
    /// nothing. Null where that cannot be now (<see cref="LibraryWatch.TryDetach"/>: a process
    /// with no socket to call back on, a transition in flight); otherwise what graftd keeps until
    /// the next attach, and <see cref="Dispose"/> then detaches.
    /// </summary>
    public DetachedLoaderWatch? TryDetach() => OperatorErrors.Run(Pid, () => libraries?.TryDetach());

    /// <summary>Undoes <see cref="TryDetach"/>: an operation came before graftd detached.</summary>
    public void Reattach() => OperatorErrors.Run(Pid, () =>
    {
        libraries?.Reattach();
        return 0;
    });

    /// <summary>A patcher whose operations run on this attachment.</summary>
    public Patcher NewPatcher(Action<string> notice, IProgress<TransitionSnapshot>? progress) => new(notice, progress, this);

    /// <summary>The state record, read without stopping anything.</summary>
    public TargetState State() => OperatorErrors.Run(Pid, () => new StateStore(target.Modules, target.Memory).Read());

    /// <summary>
    /// Whether graftd has a reason to hold the process: a transition in flight (to be retried,
    /// and new threads to be followed), or a patch that needs the loader watched
    /// (<see cref="LibraryWatch.IsNeededFor"/>). Otherwise holding it would only cost the process
    /// a ptrace stop at every signal and library load.
    /// </summary>
    public bool NeedsHolding() => OperatorErrors.Run(Pid, () =>
    {
        var state = new StateStore(target.Modules, target.Memory).Read();
        return state.InTransition is not null || libraries?.IsNeededFor(state) == true;
    });

    /// <summary>How many loader stops graftd has served on this attachment.</summary>
    public int LoaderEventsServed => libraries?.EventsServed ?? 0;

    /// <summary>Serves the process for a while: signals passed on, library loads and unloads handled as they come.</summary>
    public void Serve(TimeSpan duration) => OperatorErrors.Run(Pid, () =>
    {
        using (target.Loader?.Serve())
        {
            target.Pump(duration);
        }

        return 0;
    });

    /// <summary>Runs one operation of <see cref="Patcher"/> here, then catches up with what its own dlopen loaded.</summary>
    internal T Run<T>(int pid, Func<TargetProcess, T> work)
    {
        if (pid != Pid)
        {
            throw new GraftException(GraftFailure.Internal, $"this watch holds process {Pid}, not {pid}");
        }

        target.Refresh();
        libraries?.BeforeOperation();
        try
        {
            return work(target);
        }
        finally
        {
            libraries?.CatchUp();
        }
    }

    /// <summary>Takes the int3 off the loader and detaches; the process runs on as if Graft had never watched it.</summary>
    public void Dispose()
    {
        try
        {
            libraries?.Stop();
        }
        finally
        {
            target.Dispose();
        }
    }
}
