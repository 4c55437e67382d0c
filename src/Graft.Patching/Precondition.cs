namespace Graft.Patching;

/// <summary>
/// The check each verb of a transition opens with, as the kernel's transition.c opens with
/// WARN_ON_ONCE: a verb called out of order is graft's own bug, reported as an internal
/// failure before anything in the target changes.
/// </summary>
internal static class Precondition
{
    public static void Require(bool holds, string what)
    {
        if (!holds)
        {
            throw new GraftException(GraftFailure.Internal, $"precondition failed: {what}");
        }
    }
}
