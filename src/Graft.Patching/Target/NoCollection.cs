using System.Runtime;

namespace Graft.Patching.Target;

/// <summary>
/// Keeps the garbage collector from running during an operation on a target: a collection
/// that lands inside a stop window makes the stop as long as its pause (one of 23 ms was
/// seen). The budget is set aside up front, before any thread is stopped, and covers what an
/// operation allocates; should one allocate more, the runtime collects as usual from then on.
/// </summary>
internal sealed class NoCollection : IDisposable
{
    private const long Budget = 64L << 20;

    private readonly bool started;

    private NoCollection(bool started) => this.started = started;

    /// <summary>A region with no collection; none (and no error) when one is already open on this process.</summary>
    public static NoCollection Begin() =>
        new(GCSettings.LatencyMode != GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(Budget));

    /// <summary>Whether the budget lasted: no collection ran since <see cref="Begin"/>.</summary>
    public bool Held => started && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion;

    public void Dispose()
    {
        if (Held)
        {
            GC.EndNoGCRegion();
        }
    }
}
