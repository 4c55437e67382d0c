using System.Net.Sockets;
using System.Text;

namespace Graft.Daemon;

/// <summary>
/// The socket the exec hook of a starting process connects to (graft-hook.c). The process sends
/// nothing: who it is comes from the connection's peer credentials (SO_PEERCRED), and all it can
/// ask is to get the patches the operator enabled host-wide, and only those whose object it
/// maps. So any user may connect (a process of any user may start with a patched object). graftd
/// answers once it is done with the process; the hook waits for that, or gives up after its bound.
/// </summary>
internal sealed class HookServer : IDisposable
{
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
            journal($"process {pid} started with a patched object; applying the host-wide patches");
            apply.ApplyTo(pid);
            client.Send(Encoding.ASCII.GetBytes("done\n"));
        }
        catch (SocketException e)
        {
            // The process gave up waiting (or exited): it runs on as it is.
            journal($"exec hook: {e.Message}");
        }
    }

    public void Dispose()
    {
        listener.Dispose();
        File.Delete(path);
    }
}
