using System.CommandLine;
using System.Runtime.InteropServices;
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
        var root = new RootCommand("graftd: the Graft service; watches patched processes for libraries that come and go") { socket, journal };
        root.SetAction(result => Run(result.GetValue(socket)!, result.GetValue(journal)!));
        return root.Parse(args).Invoke();
    }

    private static int Run(string socketPath, string journalPath)
    {
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
            using var watches = new Watches(journal.Write);
            watches.Rediscover();
            using var server = new Server(socketPath, watches, journal.Write);
            journal.Write($"graftd {Environment.ProcessId} listening on {socketPath}");
            server.Serve(stop.Token);
            journal.Write("graftd stopping: releasing every process, their patches stay applied");
            return 0;
        }
        catch (IOException e)
        {
            journal.Write($"error: {e.Message}");
            return 1;
        }
        finally
        {
            registrations.ForEach(r => r.Dispose());
        }
    }
}
