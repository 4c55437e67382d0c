using System.Runtime.InteropServices;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// A timeout for the tracer's blocking waitpid: a one-shot timer that sends <see cref="Signal"/>
/// to the tracing thread alone, which ends its waitpid with EINTR. waitpid has no timeout of
/// its own, and the events it waits for (a thread's stop, a signal to pass on) come from the
/// target, which may send none for a long time.
/// </summary>
internal sealed class WaitAlarm : IDisposable
{
    /// <summary>
    /// A real-time signal nothing else in Graft's process uses: .NET takes SIGRTMIN (34) and
    /// glibc 32 and 33. Sent only by this thread's own timer, so it never reaches a thread that
    /// does not expect it.
    /// </summary>
    public const int Signal = 63;

    private static readonly Lock InstallLock = new();
    private static bool installed;

    private readonly nint timer;
    private bool disposed;

    /// <summary>A timer for the calling thread, which must be the one that calls waitpid.</summary>
    public WaitAlarm()
    {
        InstallHandler();
        var notify = new Timers.sigevent
        {
            sigev_signo = Signal,
            sigev_notify = Timers.SIGEV_THREAD_ID,
            sigev_notify_thread_id = Threads.gettid(),
        };
        if (Timers.timer_create(Timers.CLOCK_MONOTONIC, notify, out timer) != 0)
        {
            throw ErrnoException.FromLastError("timer_create");
        }
    }

    /// <summary>Sends the signal once, <paramref name="after"/> from now (at least a microsecond); replaces an earlier arming.</summary>
    public void Arm(TimeSpan after) => Set(after < TimeSpan.FromMicroseconds(1) ? TimeSpan.FromMicroseconds(1) : after);

    /// <summary>
    /// No signal from now on. One already sent is delivered at the thread's next return from the
    /// kernel and does nothing there; a blocking call it ends early is one that retries EINTR
    /// (all of Graft's and .NET's do).
    /// </summary>
    public void Disarm() => Set(TimeSpan.Zero);

    private void Set(TimeSpan after)
    {
        var ticks = after.Ticks;
        var value = new Timers.itimerspec
        {
            it_value = new Timers.timespec { tv_sec = ticks / TimeSpan.TicksPerSecond, tv_nsec = ticks % TimeSpan.TicksPerSecond * 100 },
        };
        if (Timers.timer_settime(timer, 0, value, 0) != 0)
        {
            throw ErrnoException.FromLastError("timer_settime");
        }
    }

    /// <summary>
    /// The signal needs a handler: with the default action it would kill Graft, and an ignored
    /// signal never interrupts a system call. The handler does nothing; what matters is that it
    /// is installed without SA_RESTART, so that the interrupted waitpid returns EINTR instead of
    /// being restarted. Any libc function that takes no argument and only reads serves as the
    /// handler; getpid is async-signal-safe, and runs no managed code inside a signal.
    /// </summary>
    private static unsafe void InstallHandler()
    {
        lock (InstallLock)
        {
            if (installed)
            {
                return;
            }

            var action = new Signals.struct_sigaction
            {
                sa_handler = NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "getpid"),
                sa_flags = 0,
            };
            if (Signals.sigaction(Signal, action, 0) != 0)
            {
                throw ErrnoException.FromLastError($"sigaction({Signal})");
            }

            installed = true;
        }
    }

    public void Dispose()
    {
        if (!disposed)
        {
            Timers.timer_delete(timer);
            disposed = true;
        }
    }
}
