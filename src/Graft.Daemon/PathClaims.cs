using Graft.Linux.Interop;
using Graft.Linux.Locking;

namespace Graft.Daemon;

/// <summary>
/// What keeps a second graftd off the sockets and files of one that runs. Before graftd touches any of them it locks
/// a file beside each (<see cref="FileLock"/>, "PATH.lock"; the state directory's is graftd.lock in it): its socket,
/// the hook socket, the hook file and the state directory. A graftd that finds one locked stops there, before it
/// unlinks a socket, writes the hook file or ld.so.preload, reads the host-wide list or attaches to any process, and
/// names the path and the pid of the graftd that has it. The kernel drops the locks when graftd exits, however it
/// exits: a graftd that was killed holds the next one back with nothing.
/// </summary>
internal sealed class PathClaims : IDisposable
{
    private readonly List<FileLock> locks = [];

    private PathClaims()
    {
    }

    /// <exception cref="IOException">Another graftd has one of the paths, or a lock file cannot be made.</exception>
    public static PathClaims Take(string socket, string hookSocket, string hookFile, string stateDirectory)
    {
        var claims = new PathClaims();
        try
        {
            claims.Take(LockBeside(socket), $"serves {socket}");
            claims.Take(LockBeside(hookSocket), $"serves the exec hook on {hookSocket}");
            claims.Take(LockBeside(hookFile), $"writes the exec hook file {hookFile}");
            Directory.CreateDirectory(stateDirectory);
            claims.Take(Path.Combine(stateDirectory, "graftd.lock"), $"keeps its host-wide list in {stateDirectory}");
            return claims;
        }
        catch
        {
            claims.Dispose();
            throw;
        }
    }

    private static string LockBeside(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return full + ".lock";
    }

    private void Take(string lockFile, string what)
    {
        FileLock? taken;
        int? holder;
        try
        {
            taken = FileLock.TryTake(lockFile, out holder);
        }
        catch (ErrnoException e)
        {
            throw new IOException($"cannot lock {lockFile}: {e.Message}", e);
        }

        if (taken is null)
        {
            var who = holder is { } pid ? $"another graftd (pid {pid})" : "another graftd";
            throw new IOException($"{who} {what} (it holds {lockFile}); this one stops and leaves that graftd's sockets, exec hook and host-wide list as they are");
        }

        locks.Add(taken);
    }

    public void Dispose() => locks.ForEach(l => l.Dispose());
}
