using System.Net.Sockets;
using System.Text;

namespace Graft.IntegrationTests.Support;

/// <summary>
/// A syslog datagram socket of the test's own (GRAFT_SYSLOG_SOCKET for the graft commands it
/// runs): it keeps the audit records graft sends. One is for the whole test run (<see cref="ShareWithEveryGraft"/>, bound before the first graft command runs), so
/// that graft commands on a host without /dev/log do not warn that their audit record was lost.
/// </summary>
internal sealed class SyslogSink : IDisposable
{
    public const string Variable = "GRAFT_SYSLOG_SOCKET";

    private readonly Socket socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string directory = Directory.CreateTempSubdirectory("graft-syslog-").FullName;

    public SyslogSink()
    {
        Path = System.IO.Path.Combine(directory, "log");
        socket.Bind(new UnixDomainSocketEndPoint(Path));
    }

    public string Path { get; }

    /// <summary>Every record sent so far and the ones that come within <paramref name="wait"/> until <paramref name="count"/> are there.</summary>
    public IReadOnlyList<string> Receive(int count, TimeSpan wait)
    {
        var records = new List<string>();
        var buffer = new byte[64 * 1024];
        var deadline = DateTime.UtcNow + wait;
        while (records.Count < count && DateTime.UtcNow < deadline)
        {
            if (socket.Poll(TimeSpan.FromMilliseconds(50), SelectMode.SelectRead))
            {
                records.Add(Encoding.UTF8.GetString(buffer, 0, socket.Receive(buffer)));
            }
        }

        return records;
    }

    /// <summary>Takes what has come so far and throws it away.</summary>
    public void Drain() => Receive(int.MaxValue, TimeSpan.Zero);

    public void Dispose()
    {
        socket.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>
    /// Binds the test run's sink and names it in this process's environment, which the graft commands
    /// tests start inherit; a thread throws their records away, so that the socket never fills (a
    /// datagram socket whose queue is full makes its senders wait).
    /// </summary>
    public static void ShareWithEveryGraft()
    {
        var sink = new SyslogSink();
        Environment.SetEnvironmentVariable(Variable, sink.Path);
        var drain = new Thread(() =>
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    sink.socket.Receive(buffer);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Closed as the test run ends.
            }
        })
        {
            IsBackground = true,
            Name = "syslog sink",
        };
        drain.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => sink.Dispose();
    }
}
