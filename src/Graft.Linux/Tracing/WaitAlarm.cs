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

    // How often an armed alarm repeats after its first signal (Arm).
    private static readonly TimeSpan Repeat = TimeSpan.FromMilliseconds(10);

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

    /// <summary>
    /// Sends the signal <paramref name="after"/> from now (at least a microsecond), then again
    /// every <see cref="Repeat"/> until disarmed; replaces an earlier arming. The repeats close a
    /// lost wakeup: a signal that comes before the thread has entered waitpid (preempted between
    /// arming and the call) is handled there and ends nothing, and waitpid would then block
    /// until the target sends an event, which may be never. Seen as a 10-minute hang of the
    /// test host, with Graft's new agent thread parked and waiting to be adopted.
    /// </summary>
    public void Arm(TimeSpan after) => Set(after < TimeSpan.FromMicroseconds(1) ? TimeSpan.FromMicroseconds(1) : after, Repeat);

    /// <summary>
    /// No signal from now on. One already sent is delivered at the thread's next return from the
    /// kernel and does nothing there; a blocking call it ends early is one that retries EINTR
    /// (all of Graft's and .NET's do).
    /// </summary>
    public void Disarm() => Set(TimeSpan.Zero, TimeSpan.Zero);

    private void Set(TimeSpan after, TimeSpan repeat)
    {
        var value = new Timers.itimerspec { it_value = TimeSpecOf(after), it_interval = TimeSpecOf(repeat) };
        if (Timers.timer_settime(timer, 0, value, 0) != 0)
        {
            throw ErrnoException.FromLastError("timer_settime");
        }
    }

    private static Timers.timespec TimeSpecOf(TimeSpan span) =>
        new() { tv_sec = span.Ticks / TimeSpan.TicksPerSecond, tv_nsec = span.Ticks % TimeSpan.TicksPerSecond * 100 };

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
