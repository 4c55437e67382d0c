using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Graft.Patching.Service;

/// <summary>
/// The graft command's side of graftd: when graftd runs it holds the processes it watches (a
/// process has one tracer), so operations go to it and it runs them on its attachment.
/// </summary>
public sealed class ServiceClient : IDisposable
{
    private readonly Socket socket;
    private readonly StreamReader reader;
    private readonly StreamWriter writer;

    private ServiceClient(Socket socket)
    {
        this.socket = socket;
        var stream = new NetworkStream(socket, ownsSocket: false);
        reader = new StreamReader(stream, Encoding.UTF8);
        writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
    }

    /// <summary>A connection to graftd, or null when none listens at <paramref name="path"/>; <paramref name="unreachable"/> then says why.</summary>
    public static ServiceClient? TryConnect(string path, out string? unreachable)
    {
        unreachable = null;
        if (!File.Exists(path))
        {
            unreachable = "no such socket";
            return null;
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new ServiceClient(socket);
        }
        catch (SocketException e)
        {
            // A socket file left by a graftd that is gone, or one this user may not use.
            socket.Dispose();
            unreachable = e.Message;
            return null;
        }
    }

    /// <summary>
    /// Runs the request in graftd; notices and the transition's progress come as they happen, a failure comes back as the
    /// <see cref="GraftException"/> it was. An interruption closes this side of the connection,
    /// which graftd takes as the operator's Ctrl-C: the operation rolls back there, as it would
    /// here, and its outcome still comes back.
    /// </summary>
    public ServiceReply Run(ServiceRequest request, Action<string> notice, IProgress<TransitionSnapshot>? progress, CancellationToken interruption)
    {
        writer.WriteLine(JsonSerializer.Serialize(request, ServiceJson.Default.ServiceRequest));
        using var hangUp = interruption.Register(() => socket.Shutdown(SocketShutdown.Send));
        while (reader.ReadLine() is { } line)
        {
            var reply = JsonSerializer.Deserialize(line, ServiceJson.Default.ServiceReply)
                ?? throw new GraftException(GraftFailure.Internal, "graftd sent an empty reply");
            if (reply.Notice is { } text)
            {
                notice(text);
            }

            if (reply.Snapshot is { } snapshot)
            {
                progress?.Report(snapshot);
            }

            if (reply.Failure is { } failure)
            {
                throw new GraftException(failure, reply.Error ?? "graftd gave no reason");
            }

            if (reply.Done)
            {
                return reply;
            }
        }

        throw new GraftException(GraftFailure.Internal, "graftd closed the connection before the operation finished");
    }

    public void Dispose()
    {
        reader.Dispose();
        writer.Dispose();
        socket.Dispose();
    }
}
