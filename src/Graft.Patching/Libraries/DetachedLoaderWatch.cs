namespace Graft.Patching.Libraries;

/// <summary>
/// What graftd keeps of a process whose loader it watches without tracing it: the libraries
/// that had come when it detached (the kernel's klp_alive, carried to the next attach), and its
/// end of the socket the loader stub calls back on (<see cref="LoaderChannel"/>). The stub in the
/// process still wants the events it wanted; each one now waits for graftd to attach again.
/// </summary>
public sealed class DetachedLoaderWatch : IDisposable
{
    internal DetachedLoaderWatch(IReadOnlySet<(string Path, ulong Start)> alive, LoaderChannel channel, int pidfd)
    {
        Alive = alive;
        Channel = channel;
        Pidfd = pidfd;
    }

    internal IReadOnlySet<(string Path, ulong Start)> Alive { get; }

    internal LoaderChannel Channel { get; }

    /// <summary>graftd's pidfd in the process, which the stub still polls once it traps again.</summary>
    internal int Pidfd { get; }

    /// <summary>Runs <paramref name="callBack"/> when the stub calls: a loader event graftd wants waits for graftd to attach.</summary>
    public void OnCall(Action callBack) => Channel.OnCall(callBack);

    /// <summary>Closes graftd's end: the stub lets every event pass from then on, as with a graftd gone.</summary>
    public void Dispose() => Channel.Dispose();
}
