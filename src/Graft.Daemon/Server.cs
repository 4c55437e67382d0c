using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Graft.Patching;
using Graft.Patching.Audit;
using Graft.Patching.Service;

namespace Graft.Daemon;

/// <summary>
/// The socket the graft command talks to: one request per connection, answered with its
/// notices and the transition's snapshots as they happen and then the outcome (<see cref="ServiceReply"/>).
/// </summary>
internal sealed class Server : IDisposable
{
    private readonly string path;
    private readonly Socket listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly Watches watches;
    private readonly HostPatchList hostList;
    private readonly Action<string> journal;

    public Server(string path, Watches watches, HostPatchList hostList, Action<string> journal)
    {
        this.path = path;
        this.watches = watches;
        this.hostList = hostList;
        this.journal = journal;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (ServiceClient.TryConnect(path, out _) is { } running)
        {
            running.Dispose();
            throw new IOException($"another graftd listens on {path}");
        }

        File.Delete(path);
        listener.Bind(new UnixDomainSocketEndPoint(path));

        // Only root may ask graftd anything: it traces as root (Answer checks the peer too).
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        listener.Listen(16);
    }

    public void Serve(CancellationToken stop)
    {
        var connections = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = listener.AcceptAsync(stop).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                break;
            }

            connections.RemoveAll(t => t.IsCompleted);
            connections.Add(Task.Run(() => Answer(client)));
        }

        Task.WaitAll([.. connections], TimeSpan.FromSeconds(30));
    }

    private void Answer(Socket client)
    {
        using var _ = client;
        using var stream = new NetworkStream(client, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        var gate = new Lock();
        void Send(ServiceReply reply)
        {
            lock (gate)
            {
                try
                {
                    writer.WriteLine(JsonSerializer.Serialize(reply, ServiceJson.Default.ServiceReply));
                }
                catch (IOException)
                {
                    // The command went away: its interruption rolls the operation back.
                }
            }
        }

        try
        {
            var line = reader.ReadLine();
            var request = line is null ? null : JsonSerializer.Deserialize(line, ServiceJson.Default.ServiceRequest);
            if (request is null)
            {
                return;
            }

            // The socket's mode admits root alone; the credentials still decide, whatever mode a
            // socket at another path (GRAFTD_SOCKET) was given.
            var peer = PeerCredentials.Of(client);
            if (peer.Uid != 0)
            {
                journal($"refused: {request.Command} process {request.Pid} asked by uid {peer.Uid} (pid {peer.Pid}), not root");
                throw new GraftException(GraftFailure.NotPermitted, $"graftd takes requests from root only; uid {peer.Uid} asked");
            }

            journal($"request: {request.Command} process {request.Pid} {request.Patch ?? request.Name}");
            var requester = Requester.Peer(peer.Pid, peer.Uid);

            // The command sends nothing after its request: its side of the connection closing is
            // the operator's Ctrl-C (or the command gone), and the operation rolls back as it
            // would in the command itself.
            // Not disposed: the read can end after the request has (the connection closing), and
            // cancels a token nothing listens to any more.
            var interruption = new CancellationTokenSource();
            reader.ReadLineAsync().ContinueWith(_ => interruption.Cancel(), TaskScheduler.Default);
            Send(request.Command switch
            {
                "enable" => HostWide(request, requester, () => hostList.Enable(Required(request.Patch), request.Object)),
                "disable" => HostWide(request, requester, () => hostList.Disable(Required(request.Name))),
                "enabled" => new ServiceReply(Enabled: hostList.Entries, Done: true),
                _ => watches.Submit(request.Pid, request, text => Send(new ServiceReply(Notice: text)),
                    new SnapshotRelay(snapshot => Send(new ServiceReply(Snapshot: snapshot))), interruption.Token,
                    record => Audit(record, requester)),
            });
        }
        catch (GraftException e)
        {
            Send(new ServiceReply(Failure: e.Failure, Error: e.Message));
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            journal($"bad request: {e.Message}");
        }
    }

    /// <summary>
    /// graft enable or disable, done or refused, with its line in the audit trail: the host-wide
    /// list decides what every process that starts will run, as an apply decides for one.
    /// </summary>
    private ServiceReply HostWide(ServiceRequest request, Requester requester, Func<EnabledPatch> change)
    {
        try
        {
            var entry = change();
            Audit(new AuditRecord(request.Command, 0, entry.Name, request.Patch ?? entry.File, entry.Sha256, entry.Signer, "ok"), requester);
            return new ServiceReply(Enabled: [entry], Done: true);
        }
        catch (GraftException e)
        {
            Audit(new AuditRecord(request.Command, 0, request.Name, request.Patch, null, null, AuditRecord.Outcome(e)), requester);
            throw;
        }
    }

    private void Audit(AuditRecord record, Requester requester) => journal($"audit: {record.Line(requester)}");

    /// <summary>
    /// Sends each snapshot as the transition reports it, on the operation's thread, between sweeps (no thread is held
    /// stopped then) and in order with the notices. Not <see cref="Progress{T}"/>, which would post each to the thread
    /// pool, where a late one could overtake the next.
    /// </summary>
    private sealed class SnapshotRelay(Action<TransitionSnapshot> send) : IProgress<TransitionSnapshot>
    {
        public void Report(TransitionSnapshot value) => send(value);
    }

    private static string Required(string? value) =>
        value ?? throw new GraftException(GraftFailure.Internal, "the request names no patch");

    public void Dispose()
    {
        listener.Dispose();
        File.Delete(path);
    }
}
