using Graft.Patching;
using Graft.Patching.Service;

namespace Graft.Daemon;

/// <summary>
/// What makes processes that start get the host-wide patches: the hook library (libgraft-hook.so,
/// runtime/src/graft-hook.c) listed in /etc/ld.so.preload, and the hook file it reads: the
/// build-ids of the objects enabled patches are for, those of libraries marked "loadable" (a process
/// that does not map one asks graftd before it dlopens anything), and the socket on which graftd
/// answers the hook (<see cref="HookServer"/>). Both are there only while the list is not empty.
/// </summary>
internal sealed class ExecHook(string hookFile, string socket, string library)
{
    public const string DefaultFile = "/run/graft/exec-hook";
    public const string DefaultSocket = "/run/graft/hook.sock";

    // The hook checks the first line: a file of another format is not read.
    private const string Magic = "graft-hook 2";

    public string Library { get; } = library;

    /// <summary>Refuses a hook library that is not there: ld.so would complain about it in every process that starts.</summary>
    public void RequireLibrary()
    {
        if (!File.Exists(Library))
        {
            throw new GraftException(GraftFailure.Refused, $"graftd's exec hook {Library} is missing: new processes could not get the patch (graftd --hook-library)");
        }
    }

    /// <summary>Lists the hook for <paramref name="enabled"/>, or takes it away when that is empty.</summary>
    public void Update(IReadOnlyList<EnabledPatch> enabled)
    {
        if (enabled.Count == 0)
        {
            Withdraw();
            return;
        }

        RequireLibrary();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(hookFile))!);
        var loadable = enabled.SelectMany(e => e.LoadableBuildIds ?? []).ToHashSet();
        var lines = enabled.SelectMany(e => e.BuildIds).Distinct().Select(id => loadable.Contains(id) ? $"{id} loadable" : id);
        // The hook file before the preload entry, and (in Withdraw) after it: a process that
        // loads the hook finds the file that goes with it.
        AtomicFile.Write(hookFile, string.Concat(new[] { Magic, $"socket {socket}" }.Concat(lines).Select(l => l + "\n")));
        PreloadFile.Add(Library);
    }

    /// <summary>Takes the hook out of ld.so.preload (other entries stay), then removes its file.</summary>
    public void Withdraw()
    {
        PreloadFile.Remove(Library);
        if (File.Exists(hookFile))
        {
            File.Delete(hookFile);
        }
    }
}
