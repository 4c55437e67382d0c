namespace Graft.Linux.Tracing;

/// <summary>
/// Runs a piece of work on one dedicated OS thread. The kernel ties a ptrace attachment to the
/// thread that made it, and .NET's async and thread-pool code hop threads, so every tracing
/// session runs whole on one of these.
/// </summary>
public static class PtraceThread
{
    public static T Run<T>(Func<T> work)
    {
        T? result = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, maxStackSize: 4 << 20)
        {
            Name = "graft-ptrace",
            IsBackground = true,
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        return result!;
    }

    public static void Run(Action work) => Run(() =>
    {
        work();
        return 0;
    });
}
