using System.Collections.Concurrent;
using System.Diagnostics;
using Graft.Patching.Audit;
using Graft.Patching.Libraries;
using Graft.Patching.Operations;

namespace Graft.Patching.Service;

/// <summary>
/// One process graftd holds, on a ptrace thread of its own: between operations it serves the
/// process (signals, library loads and unloads), and retries a transition in flight every
/// second, as the kernel's klp_transition_work_fn does. It lets the process go once no patch
/// is left in it, once nothing is left to hold it for (<see cref="WatchedProcess.NeedsHolding"/>:
/// the next command attaches again), or when it exits. A process it must hold only for its
/// loader's events it detaches from after <see cref="DetachAfter"/> without one, leaving the
/// loader stub to call graftd back (<see cref="TakeDetached"/>): the next watch takes that over.
/// </summary>
public sealed class ProcessWatch : IDisposable
{
    private static readonly TimeSpan ServeSlice = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RetryTimeout = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a watch stays attached after the last loader event it served: a burst of loads pays one attach.</summary>
    private static readonly TimeSpan DetachAfter = TimeSpan.FromMilliseconds(500);

    private readonly BlockingCollection<Submission> submissions = [];
    private readonly Lock gate = new();
    private readonly Action<string> journal;
    private readonly Thread thread;
    private readonly bool letGoAtOnce;
    private readonly Action calledBack;
    private DetachedLoaderWatch? resume;
    private DetachedLoaderWatch? detached;
    private volatile bool stopping;
    private volatile int osThread;

    private ProcessWatch(int pid, Action<string> journal, bool letGoAtOnce, DetachedLoaderWatch? resume, Action calledBack)
    {
        Pid = pid;
        this.journal = journal;
        this.letGoAtOnce = letGoAtOnce;
        this.resume = resume;
        this.calledBack = calledBack;
        thread = new Thread(Loop, maxStackSize: 4 << 20) { Name = $"graftd-{pid}", IsBackground = true };
    }

    public int Pid { get; }

    /// <summary>False once the watch has ended: the process exited, has no patch left, or was left to its loader stub.</summary>
    public bool IsRunning => thread.IsAlive && !stopping;

    /// <summary>
    /// What the watch left when it detached with the loader stub calling graftd back, for the
    /// next watch to take over (then no longer this one's to close); null otherwise.
    /// </summary>
    public DetachedLoaderWatch? TakeDetached() => Interlocked.Exchange(ref detached, null);

    /// <summary>
    /// Whether the watch detached and the process no longer has graftd's descriptors its stub
    /// needs (<see cref="DetachedLoaderWatch.IsIntact"/>): its loader events would go unseen until
    /// a watch attaches and arms the stub again.
    /// </summary>
    public bool LostItsCallBack => !IsRunning && detached is { } left && !left.IsIntact(Pid);

    /// <summary>
    /// Attaches and starts watching; a process that cannot be attached to is the caller's
    /// <see cref="GraftException"/>. The watch lets the process go after an operation or a
    /// transition that leaves it nothing to hold it for (<see cref="WatchedProcess.NeedsHolding"/>);
    /// with <paramref name="letGoAtOnce"/> (a graftd starting, which finds the process, or a
    /// stub calling back), also at once. <paramref name="resume"/> is what the watch before this
    /// one left when it detached (<see cref="TakeDetached"/>); <paramref name="calledBack"/> runs
    /// when the stub calls graftd after this watch has detached in turn.
    /// </summary>
    public static ProcessWatch Start(int pid, Action<string> journal, bool letGoAtOnce, DetachedLoaderWatch? resume, Action calledBack)
    {
        var watch = new ProcessWatch(pid, journal, letGoAtOnce, resume, calledBack);
        var attached = new TaskCompletionSource<WatchedProcess>();
        watch.thread.Start(attached);
        try
        {
            attached.Task.Wait();
        }
        catch (AggregateException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
        }

        return watch;
    }

    /// <summary>
    /// Runs an operation on the watch's thread; blocks until it is done. Notices go to
    /// <paramref name="notice"/> and the journal, the transition's progress to <paramref name="progress"/>; <paramref name="interruption"/> is the
    /// command's Ctrl-C; the operation's audit record goes to <paramref name="audit"/>. Null if the watch had let the process go before it could take the
    /// operation (<see cref="IsRunning"/> is false from then on): the caller submits it to a new
    /// watch.
    /// </summary>
    public ServiceReply? TrySubmit(ServiceRequest request, Action<string> notice, IProgress<TransitionSnapshot>? progress, CancellationToken interruption,
        Action<AuditRecord> audit)
    {
        var submission = new Submission(request, notice, progress, interruption, audit);

        // Pairs with LetGo and the end of Loop: an operation is either queued before the watch
        // decides to end, and then taken, or refused here.
        lock (gate)
        {
            if (stopping)
            {
                return null;
            }

            submissions.Add(submission);
        }

        return submission.Reply.Task.GetAwaiter().GetResult();
    }

    private void Loop(object? start)
    {
        var attached = (TaskCompletionSource<WatchedProcess>)start!;
        osThread = Linux.Tracing.PtraceThread.CurrentOsThread();
        WatchedProcess watched;
        try
        {
            watched = WatchedProcess.Attach(Pid, text => journal($"process {Pid}: {text}"), Interlocked.Exchange(ref resume, null));
        }
        catch (Exception e)
        {
            stopping = true;
            attached.SetException(e);
            return;
        }

        journal($"watching process {Pid}");
        attached.SetResult(watched);
        try
        {
            Watch(watched);
        }
        catch (Exception e)
        {
            // Whatever went wrong with this process, graftd and its other watches carry on;
            // this one ends and lets the process go.
            journal($"process {Pid}: watch ended: {e.Message}");
        }
        finally
        {
            lock (gate)
            {
                stopping = true;
            }

            submissions.CompleteAdding();
            foreach (var left in submissions)
            {
                left.Reply.TrySetException(new GraftException(GraftFailure.TargetGone, $"graftd stopped watching process {Pid}"));
            }

            Release(watched);
        }
    }

    private void Watch(WatchedProcess watched)
    {
        var sinceRetry = Stopwatch.StartNew();
        var sinceLoaderEvent = Stopwatch.StartNew();
        var served = watched.LoaderEventsServed;
        var reconsider = letGoAtOnce;
        while (!stopping && Directory.Exists($"/proc/{Pid}/task"))
        {
            if (submissions.TryTake(out var submission))
            {
                Execute(watched, submission);
                if (watched.State().Patches.Count == 0)
                {
                    journal($"process {Pid} has no patch left");
                    return;
                }

                reconsider = true;
                sinceLoaderEvent.Restart();
                continue;
            }

            if (reconsider && !watched.NeedsHolding())
            {
                if (LetGo())
                {
                    journal($"process {Pid}: no patch waits for a library to load or unload and no transition is in flight; letting it go until the next command");
                    return;
                }

                // An operation came in meanwhile: it is taken first.
                continue;
            }

            reconsider = false;
            watched.Serve(ServeSlice);
            if (watched.LoaderEventsServed != served)
            {
                served = watched.LoaderEventsServed;
                sinceLoaderEvent.Restart();
            }
            else if (sinceLoaderEvent.Elapsed >= DetachAfter)
            {
                if (Detach(watched))
                {
                    return;
                }

                sinceLoaderEvent.Restart();
            }

            if (sinceRetry.Elapsed >= RetryInterval)
            {
                sinceRetry.Restart();
                reconsider = RetryTransition(watched);
            }
        }

        if (!stopping)
        {
            journal($"process {Pid} exited");
        }
    }

    private void Execute(WatchedProcess watched, Submission submission)
    {
        void Notice(string text)
        {
            journal($"process {Pid}: {text}");
            submission.Notice(text);
        }

        try
        {
            submission.Reply.SetResult(Operation.Execute(watched.NewPatcher(Notice, submission.Progress), submission.Request, submission.Interruption,
                submission.Audit));
        }
        catch (GraftException e)
        {
            journal($"process {Pid}: error: {e.Message}");
            submission.Reply.SetResult(new ServiceReply(Failure: e.Failure, Error: e.Message));
        }
    }

    /// <summary>
    /// Ends the watch unless an operation is queued: decided under the gate, so that no
    /// operation is queued after the decision, only to fail with the watch (pairs with
    /// <see cref="TrySubmit"/>).
    /// </summary>
    private bool LetGo()
    {
        lock (gate)
        {
            if (submissions.Count > 0)
            {
                return false;
            }

            stopping = true;
            return true;
        }
    }

    /// <summary>
    /// Ends the watch with the loader stub left calling graftd back, unless that cannot be now
    /// (<see cref="WatchedProcess.TryDetach"/>) or an operation is queued, which undoes it
    /// (decided under the gate, as <see cref="LetGo"/>).
    /// </summary>
    private bool Detach(WatchedProcess watched)
    {
        if (watched.TryDetach() is not { } left)
        {
            return false;
        }

        lock (gate)
        {
            if (submissions.Count > 0)
            {
                watched.Reattach();
                return false;
            }

            stopping = true;
            detached = left;
        }

        left.OnCall(calledBack);
        return true;
    }

    /// <summary>klp_transition_work_fn: one more sweep of the transition in flight, quietly unless it completes; false if none was in flight.</summary>
    private bool RetryTransition(WatchedProcess watched)
    {
        if (watched.State().InTransition is null)
        {
            return false;
        }

        try
        {
            watched.NewPatcher(text => journal($"process {Pid}: {text}"), progress: null).Continue(Pid, RetryTimeout);
        }
        catch (GraftException e)
        {
            journal($"process {Pid}: retrying the transition failed: {e.Message}");
        }

        return true;
    }

    private void Release(WatchedProcess watched)
    {
        try
        {
            watched.Dispose();
            journal(detached is null ? $"released process {Pid}" : $"detached from process {Pid}: its loader stub calls graftd back at the next library event graftd needs");
        }
        catch (Exception e)
        {
            journal($"process {Pid}: releasing it failed: {e.Message}");
        }
    }

    /// <summary>
    /// Stops watching: the loader's int3 is taken away and the process detached, its patches left
    /// as they are. Returns once the watch's OS thread has exited, which detaches what it left
    /// attached (<see cref="Linux.Tracing.PtraceThread.AwaitExit"/>): a new watch can attach then.
    /// </summary>
    public void Dispose()
    {
        stopping = true;
        if (thread != Thread.CurrentThread)
        {
            if (thread.IsAlive)
            {
                thread.Join();
            }

            Linux.Tracing.PtraceThread.AwaitExit(osThread);
        }

        submissions.Dispose();
    }

    private sealed record Submission(ServiceRequest Request, Action<string> Notice, IProgress<TransitionSnapshot>? Progress, CancellationToken Interruption,
        Action<AuditRecord> Audit)
    {
        public TaskCompletionSource<ServiceReply> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
