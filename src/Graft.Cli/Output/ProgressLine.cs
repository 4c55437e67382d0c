using System.Diagnostics;
using Graft.Patching;

namespace Graft.Cli.Output;

/// <summary>
/// The live line on stderr while a transition runs (apply, revert, continue on a terminal): threads switched of
/// the live ones, how many are stuck and what holds one back, the time elapsed since the command started and left
/// until the transition's deadline (<see cref="TransitionSnapshot.Describe"/>). The transition only hands over its latest snapshot
/// (<see cref="Report"/>, on the operation's thread, which must not wait on a terminal); a timer draws it, first
/// after <see cref="Delay"/>, so that a short operation prints nothing more. Notices are written above it, and the
/// line is wiped before the command prints its result.
/// </summary>
internal sealed class ProgressLine : IProgress<TransitionSnapshot>, IDisposable
{
    /// <summary>How long the command runs before the line appears.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan RedrawPeriod = TimeSpan.FromMilliseconds(200);

    // Back to the line's start, and erase to its end (VT100 EL): every terminal graft draws on knows both.
    private const string Wipe = "\r\x1b[K";

    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly Lock gate = new();
    private readonly Timer timer;
    private Received? latest;
    private bool drawn;
    private bool ended;

    private ProgressLine() => timer = new Timer(_ => Draw(), null, Delay, RedrawPeriod);

    /// <summary>
    /// A line for an operation, or null where it would only be in the way: with --json, when stderr is not a terminal
    /// (a script reads it, and its bytes stay as they were), and when NO_COLOR (or TERM=dumb) asks for no escape codes.
    /// </summary>
    public static ProgressLine? TryStart(bool json)
    {
        var dumb = Environment.GetEnvironmentVariable("TERM") is "dumb";
        return json || Console.IsErrorRedirected || Terminal.NoColor || dumb ? null : new ProgressLine();
    }

    /// <summary>Keeps the snapshot, and when it came, for the next draw; writes nothing.</summary>
    public void Report(TransitionSnapshot value) => Volatile.Write(ref latest, new Received(value, clock.Elapsed));

    /// <summary><paramref name="write"/> (of a line on stderr) wrapped so that the line is wiped first, and drawn again at the next tick.</summary>
    public Action<string> Above(Action<string> write) => text =>
    {
        lock (gate)
        {
            WipeIfDrawn();
            write(text);
        }
    };

    /// <summary>
    /// The text of <paramref name="snapshot"/> on one terminal line of <paramref name="width"/> columns: a line that
    /// wrapped could not be drawn over again. <paramref name="age"/>: how long ago it came.
    /// </summary>
    private static string Text(TransitionSnapshot snapshot, TimeSpan elapsed, TimeSpan age, int width)
    {
        const string Prefix = "graft: ";
        // The last column stays empty: some terminals wrap as soon as it is written.
        var room = Math.Max(width - 1 - Prefix.Length, 20);
        var text = Escaped.Line(snapshot.Describe(elapsed, snapshot.Left - age, room));
        // Escapes lengthen a line only where a name held control characters.
        return Prefix + (text.Length <= room ? text : text[..room]);
    }

    private void Draw()
    {
        lock (gate)
        {
            if (ended || Volatile.Read(ref latest) is not { } received)
            {
                return;
            }

            var now = clock.Elapsed;
            Console.Error.Write(Wipe + Text(received.Snapshot, now, now - received.At, Terminal.Width(Terminal.StandardError)));
            Console.Error.Flush();
            drawn = true;
        }
    }

    private void WipeIfDrawn()
    {
        if (drawn)
        {
            Console.Error.Write(Wipe);
            drawn = false;
        }
    }

    private sealed record Received(TransitionSnapshot Snapshot, TimeSpan At);

    /// <summary>Stops drawing and wipes the line, so that what the command prints next starts on a clean line.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            ended = true;
            WipeIfDrawn();
        }

        timer.Dispose();
    }
}
