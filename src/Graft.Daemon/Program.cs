using System.CommandLine;
using System.Runtime.InteropServices;
using Graft.Patching;
using Graft.Patching.Service;

// Process tracing and Unix sockets: graftd runs on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Graft.Daemon;

/// <summary>graftd: holds the processes that have patches, follows their library loads, retries transitions in flight.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var socket = new Option<string>("--socket") { Description = "where the graft command reaches graftd", DefaultValueFactory = _ => ServiceSocket.Path };
        var journal = new Option<string>("--journal") { Description = "the journal of what graftd did", DefaultValueFactory = _ => "/var/log/graft/graftd.journal" };
        var state = new Option<string>("--state") { Description = "where graftd keeps the host-wide patch list and its copies of the patches", DefaultValueFactory = _ => "/var/lib/graft" };
        var hookFile = new Option<string>("--hook-file") { Description = "the file the exec hook reads (it reads GRAFT_HOOK_FILE instead when set)", DefaultValueFactory = _ => ExecHook.DefaultFile };
        var hookSocket = new Option<string>("--hook-socket") { Description = "where graftd answers the exec hook of processes that start", DefaultValueFactory = _ => ExecHook.DefaultSocket };
        var hookLibrary = new Option<string>("--hook-library") { Description = "the exec hook graftd lists in /etc/ld.so.preload while patches are enabled host-wide", DefaultValueFactory = _ => DefaultHookLibrary() };
        var root = new RootCommand("graftd: the Graft service; watches patched processes for libraries that come and go, and patches processes that start")
        {
            socket, journal, state, hookFile, hookSocket, hookLibrary,
        };
        root.SetAction(result => Run(new Paths(result.GetValue(socket)!, result.GetValue(journal)!, result.GetValue(state)!,
            result.GetValue(hookFile)!, result.GetValue(hookSocket)!, Path.GetFullPath(result.GetValue(hookLibrary)!))));
        return root.Parse(args).Invoke();
    }

    /// <summary>Beside graftd as scripts/publish.sh lays it out, else where the package installs it.</summary>
    private static string DefaultHookLibrary()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "runtime", "lib", "libgraft-hook.so");
        return File.Exists(beside) ? beside : "/usr/lib/graft/libgraft-hook.so";
    }

    private static int Run(Paths paths)
    {
        var (socketPath, journalPath, statePath, hookFile, hookSocket, hookLibrary) = paths;
        using var journal = new Journal(journalPath);
        using var stop = new CancellationTokenSource();
        var registrations = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            }))
            .ToList();
        try
        {
            // First of all: a second graftd stops here, having touched nothing of the first one's.
            using var claims = PathClaims.Take(socketPath, hookSocket, hookFile, statePath);
            using var watches = new Watches(journal.Write);
            watches.Rediscover();
            var hook = new ExecHook(hookFile, hookSocket, hookLibrary);
            var hostList = HostPatchList.Load(statePath, hook);
            var apply = new HostWideApply(hostList, watches, journal.Write);
            using var hookServer = new HookServer(hookSocket, apply, journal.Write);
            using var server = new Server(socketPath, watches, hostList, journal.Write);
            try
            {
                var hookAnswers = Task.Run(() => hookServer.Serve(stop.Token));
                // After the hook socket listens: a process that starts meanwhile is patched by
                // its hook, one that started before by the sweep (each skips what the other did).
                var sweep = Task.Run(() => apply.Sweep(stop.Token));
                journal.Write($"graftd {Environment.ProcessId} listening on {socketPath}; {hostList.Entries.Count} patch(es) enabled host-wide");
                server.Serve(stop.Token);
                Task.WaitAll([hookAnswers, sweep], TimeSpan.FromSeconds(30));
            }
            finally
            {
                // Stopped cleanly: processes that start from now on do not look for graftd.
                hook.Withdraw();
            }

            journal.Write("graftd stopping: releasing every process, their patches stay applied; the host-wide list stays for the next start");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or GraftException)
        {
            journal.Write($"error: {e.Message}");
            return 1;
        }
        finally
        {
            registrations.ForEach(r => r.Dispose());
        }
    }

    private sealed record Paths(string Socket, string Journal, string State, string HookFile, string HookSocket, string HookLibrary);
}
