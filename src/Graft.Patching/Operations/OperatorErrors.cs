using Graft.Linux.Interop;
using Graft.Linux.Tracing;
using Graft.Model.State;

namespace Graft.Patching.Operations;

/// <summary>Turns the lower layers' exceptions into the operator's one-line errors, each with its exit code.</summary>
internal static class OperatorErrors
{
    /// <summary>Runs <paramref name="work"/>; what the lower layers throw comes out as one <see cref="GraftException"/>.</summary>
    public static T Run<T>(int pid, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (TargetGoneException e)
        {
            throw new GraftException(GraftFailure.TargetGone, e.Message, e);
        }
        catch (TargetCrashedException e)
        {
            throw new GraftException(GraftFailure.TargetCrashed, e.Message, e);
        }
        catch (TargetStoppedException e)
        {
            throw new GraftException(GraftFailure.Refused, e.Message, e);
        }
        catch (ThreadUnresponsiveException e)
        {
            throw new GraftException(GraftFailure.Timeout, $"{e.Message}; everything was rolled back", e);
        }
        catch (UnauthorizedAccessException e)
        {
            // /proc/<pid>/maps and mem ask for the rights ptrace does: a process of another user, or one a namespace hides.
            throw new GraftException(GraftFailure.NotPermitted,
                $"not permitted to read process {pid} ({e.Message.TrimEnd('.')}): run graft as root or as the process's owner", e);
        }
        catch (Exception e) when (e is InjectionException or RemoteMemoryException or ErrnoException or StateFormatException)
        {
            throw new GraftException(GraftFailure.Internal, $"process {pid}: {e.Message}", e);
        }
    }
}
