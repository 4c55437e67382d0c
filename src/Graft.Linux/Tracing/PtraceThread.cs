using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// Runs a piece of work on one dedicated OS thread. The kernel ties a ptrace attachment to the
/// thread that made it, and .NET's async and thread-pool code hop threads, so every tracing
/// session runs whole on one of these. When the work returns, the OS thread exits and the
/// kernel detaches every thread still attached to it, without stopping any
/// (<see cref="Tracee.Dispose"/> leaves the running ones to that).
/// </summary>
public static class PtraceThread
{
    // Far beyond an exit's microseconds, even with a thousand tracees to let go.
    private static readonly TimeSpan ExitBound = TimeSpan.FromSeconds(10);

    public static T Run<T>(Func<T> work)
    {
        T? result = default;
        Exception? failure = null;
        var osThread = 0;
        var thread = new Thread(() =>
        {
            osThread = Threads.gettid();
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, maxStackSize: 4 << 20)
        {
            Name = "graft-ptrace",
            IsBackground = true,
        };
        thread.Start();
        thread.Join();
        AwaitExit(osThread);
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        return result!;
    }

    public static void Run(Action work) => Run(() =>
    {
        work();
        return 0;
    });

    /// <summary>The calling thread's kernel id, to give to <see cref="AwaitExit"/> once it has ended.</summary>
    public static int CurrentOsThread() => Threads.gettid();

    /// <summary>
    /// Returns once the OS thread <paramref name="osThread"/> of this process has exited, so every
    /// tracee it left attached is detached: Thread.Join returns when the managed thread is done,
    /// a moment before its OS thread exits. The kernel detaches the tracees (exit_notify, in
    /// exit_ptrace) before it unhashes the exiting thread, which is when its /proc/self/task
    /// entry goes: a next attach, by this process or another, then finds them free. At most
    /// <see cref="ExitBound"/>: a thread stuck in its exit must not hang graft or graftd; a next
    /// attach would then be refused as already traced, which says what happened.
    /// </summary>
    public static void AwaitExit(int osThread)
    {
        if (osThread == 0)
        {
            return;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var spin = new SpinWait();
        while (Directory.Exists($"/proc/self/task/{osThread}") && clock.Elapsed < ExitBound)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
