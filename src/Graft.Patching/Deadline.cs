namespace Graft.Patching;

/// <summary>When an operation gives up waiting: at a time, or as soon as the operator interrupts it.</summary>
internal readonly record struct Deadline(DateTime At, CancellationToken Interruption)
{
    public static Deadline After(TimeSpan timeout, CancellationToken interruption = default) =>
        new(DateTime.UtcNow + timeout, interruption);

    public bool HasPassed => DateTime.UtcNow > At;

    public bool Allows(TimeSpan wait) => DateTime.UtcNow + wait <= At;

    /// <summary>Called where waiting can stop safely: what was done so far is then rolled back.</summary>
    public void ThrowIfInterrupted()
    {
        if (Interruption.IsCancellationRequested)
        {
            throw new GraftException(GraftFailure.Interrupted, "interrupted while waiting; the operation was rolled back");
        }
    }
}
