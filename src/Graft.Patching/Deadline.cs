namespace Graft.Patching;

/// <summary>When an operation gives up waiting: at a time, or as soon as the operator interrupts it.</summary>
internal readonly record struct Deadline(DateTime At, CancellationToken Interruption)
{
    public static Deadline After(TimeSpan timeout, CancellationToken interruption = default) =>
        new(DateTime.UtcNow + timeout, interruption);

    public bool HasPassed => DateTime.UtcNow > At;

    public bool Allows(TimeSpan wait) => DateTime.UtcNow + wait <= At;

    /// <summary>The time until the deadline, zero once past.</summary>
    public TimeSpan Left => Bound(TimeSpan.MaxValue);

    /// <summary><paramref name="limit"/>, or less if the deadline comes sooner.</summary>
    public TimeSpan Bound(TimeSpan limit)
    {
        var left = At - DateTime.UtcNow;
        return left < TimeSpan.Zero ? TimeSpan.Zero : left < limit ? left : limit;
    }

    /// <summary>
    /// Called before a step that must not begin past the deadline: what was done so far is then
    /// rolled back. <paramref name="when"/> says where the time went ("before the patch was loaded").
    /// </summary>
    public void ThrowIfPassed(int pid, string when)
    {
        if (HasPassed)
        {
            throw new GraftException(GraftFailure.Timeout, $"process {pid}: the timeout passed {when}; the operation was rolled back");
        }
    }

    /// <summary>Called where waiting can stop safely: what was done so far is then rolled back.</summary>
    public void ThrowIfInterrupted()
    {
        if (Interruption.IsCancellationRequested)
        {
            throw new GraftException(GraftFailure.Interrupted, "interrupted while waiting; the operation was rolled back");
        }
    }
}
