using System.Net.Sockets;
using System.Text;

namespace Graft.Daemon;

/// <summary>
/// The socket the hook in a process connects to (graft-hook.c). The process sends one byte, when it
/// asks: 's' at start (it maps a patched object), 'l' before a dlopen (it does not map a library a
/// patch is for yet). Who it is comes from the connection's peer credentials (SO_PEERCRED), and all
/// it can ask is to get the patches the operator enabled host-wide, those whose object it maps or,
/// before a load, those for libraries. So any user may connect (a process of any user may start
/// with a patched object). graftd answers once it is done with the process; the hook waits for
/// that, or gives up after its bound.
/// </summary>
internal sealed class HookServer : IDisposable
{
    private const byte AtStart = (byte)'s';
    private const byte BeforeLoad = (byte)'l';
    private const int RequestTimeoutMilliseconds = 1000;

    private readonly string path;
    private readonly Socket listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly HostWideApply apply;
    private readonly Action<string> journal;

    public HookServer(string path, HostWideApply apply, Action<string> journal)
    {
        this.path = path;
        this.apply = apply;
        this.journal = journal;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.Delete(path);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        listener.Listen(64);
    }

    public void Serve(CancellationToken stop)
    {
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

            // Each on its own: a process graftd is slow to patch does not hold back the next one.
            _ = Task.Run(() => Answer(client));
        }
    }

    private void Answer(Socket client)
    {
        using var _ = client;
        try
        {
            var pid = PeerCredentials.Of(client).Pid;
            if (Request(client) == BeforeLoad)
            {
                journal($"process {pid} is about to load a library (dlopen); applying the host-wide patches for libraries");
                apply.ApplyForLoad(pid);
            }
            else
            {
                journal($"process {pid} started with a patched object; applying the host-wide patches");
                apply.ApplyTo(pid);
            }

            client.Send(Encoding.ASCII.GetBytes("done\n"));
        }
        catch (SocketException e)
        {
            // The process gave up waiting (or exited): it runs on as it is.
            journal($"exec hook: {e.Message}");
        }
    }

    // The hook sends its byte right after connecting. One that sends nothing (a hook older than
    // the byte, or one that went away) is taken as a start: what it asked before.
    private static byte Request(Socket client)
    {
        client.ReceiveTimeout = RequestTimeoutMilliseconds;
        var request = new byte[1];
        try
        {
            return client.Receive(request) == 1 ? request[0] : AtStart;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            return AtStart;
        }
    }

    public void Dispose()
    {
        listener.Dispose();
        File.Delete(path);
    }
}
