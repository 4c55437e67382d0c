using Graft.Linux.Interop;
using Graft.Model.State;
using Graft.Patching.Target;

namespace Graft.Patching.Redirect;

/// <summary>
/// The end of slot pages' lifetime: they are unmapped by a thread of the target, once the
/// record no longer lists them (a library event handler reads the record while the call runs).
/// </summary>
internal static class SlotPages
{
    /// <summary>Unmaps <paramref name="pages"/> on <paramref name="tid"/>, a thread stopped fit to run calls.</summary>
    public static void Unmap(TargetProcess target, int tid, IEnumerable<SlotPage> pages)
    {
        foreach (var page in pages)
        {
            target.Syscalls.Munmap(tid, page.Address, page.Size);
        }
    }

    /// <summary>
    /// Past a switch the operation is done: pages nothing leads to any more are unmapped if a
    /// thread can run the call soon, and otherwise left mapped, unused and harmless, with a
    /// warning. Either way the operation reports what it did, the switch.
    /// </summary>
    public static void UnmapIfAThreadCanSoon(TargetProcess target, IReadOnlyList<SlotPage> pages, TimeSpan timeout, Action<string> notice)
    {
        if (pages.Count == 0)
        {
            return;
        }

        try
        {
            using var caller = CallerThread.Acquire(target, Deadline.After(timeout), StopPurposes.SlotUnmap);
            Unmap(target, caller.Tid, pages);
        }
        catch (GraftException e) when (e.Failure == GraftFailure.Timeout)
        {
            notice($"warning: {pages.Count} slot page(s) nothing uses any more stay mapped: {e.Message}");
        }
    }
}
