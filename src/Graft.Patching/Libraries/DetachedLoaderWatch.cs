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

    /// <summary>
    /// Whether the process still has graftd's descriptors as graftd left them: its end of the
    /// socket, and graftd's pidfd, which the stub polls once it traps again. A program that closes
    /// descriptors it does not know (a daemon's closefrom) turns the stub's calls off; graftd then
    /// attaches again to arm it anew.
    /// </summary>
    public bool IsIntact(int pid) =>
        Channel.IsOpenIn(pid) && LoaderStub.PidfdOwner(pid, Pidfd) == Environment.ProcessId;

    /// <summary>Runs <paramref name="callBack"/> when the stub calls: a loader event graftd wants waits for graftd to attach.</summary>
    public void OnCall(Action callBack) => Channel.OnCall(callBack);

    /// <summary>Closes graftd's end: the stub lets every event pass from then on, as with a graftd gone.</summary>
    public void Dispose() => Channel.Dispose();
}
