using System.Globalization;

namespace Graft.Patching;

/// <summary>
/// How a running transition stands after its latest sweep (per-thread) or attempt (stop-world), for a live
/// display: the threads switched of the live ones, how many are stuck, what holds one of them back
/// (<see cref="HeldBy"/>: "thread 4242 is running slow_path (...)"), and the time <see cref="Left"/> until the
/// operation's deadline as the side that runs it counts (graftd's starts when the request reaches it). Stop-world switches every thread at once,
/// so until it does none has switched and every thread whose stack is not clean counts as stuck.
/// </summary>
public sealed record TransitionSnapshot(string Patch, bool Patching, ConsistencyModel Model, int Threads, int Switched, int Stuck, string? HeldBy, TimeSpan Left)
{
    private const string Ellipsis = "...";

    /// <summary>
    /// One line: "patching 'fix': 2 of 3 threads switched, 1 stuck (thread 4242 is running slow_path (...)); 1.5 s elapsed, 13.5 s left".
    /// <paramref name="left"/> below zero is shown as none. Longer than <paramref name="width"/>, what holds the thread back
    /// is cut short first ("..."), so that the counts and the times stay; then the end of the line.
    /// </summary>
    public string Describe(TimeSpan elapsed, TimeSpan left, int width = int.MaxValue)
    {
        var model = Model == ConsistencyModel.StopWorld ? " (stop-world)" : "";
        var head = string.Create(CultureInfo.InvariantCulture,
            $"{(Patching ? "patching" : "unpatching")} '{Patch}'{model}: {Switched} of {Threads} threads switched{(Stuck == 0 ? "" : $", {Stuck} stuck")}");
        var tail = $"; {Seconds(elapsed)} elapsed, {Seconds(left < TimeSpan.Zero ? TimeSpan.Zero : left)} left";
        var room = width - head.Length - tail.Length - " ()".Length;
        var held = Stuck == 0 || HeldBy is null || room < Ellipsis.Length + 8 ? ""
            : HeldBy.Length <= room ? $" ({HeldBy})"
            : $" ({HeldBy[..(room - Ellipsis.Length)]}{Ellipsis})";
        var line = head + held + tail;
        return line.Length <= width ? line : line[..Math.Max(width - Ellipsis.Length, 0)] + Ellipsis;
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
}
