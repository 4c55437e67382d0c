using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Graft.Patching.Audit;

/// <summary>
/// The audit trail of a graft command that runs its operation itself: one syslog message per
/// operation (RFC 3164, facility authpriv, tag graft) sent to the local syslog's datagram socket.
/// A host without one does not stop the operation, but graft says so, once, on stderr.
/// </summary>
public static class SyslogAudit
{
    public const string DefaultSocket = "/dev/log";

    /// <summary>Names another socket, for tests.</summary>
    public const string SocketVariable = "GRAFT_SYSLOG_SOCKET";

    // authpriv (10) * 8 + info (6): records of who did what as root go where the host keeps sudo's.
    private const int Priority = 10 * 8 + 6;

    private static int warned;

    public static string SocketPath => Environment.GetEnvironmentVariable(SocketVariable) is { Length: > 0 } named ? named : DefaultSocket;

    /// <summary>Sends the record as <paramref name="requester"/> asked for it; <paramref name="warn"/> hears, once per process, that it could not.</summary>
    public static void Write(AuditRecord record, Requester requester, Action<string> warn)
    {
        var now = DateTime.Now;
        // RFC 3164's timestamp: "Dec  7 03:04:05", the day padded with a space.
        var stamp = string.Create(CultureInfo.InvariantCulture, $"{now:MMM} {now.Day,2} {now:HH:mm:ss}");
        var message = Encoding.UTF8.GetBytes($"<{Priority}>{stamp} graft[{Environment.ProcessId}]: {record.Line(requester)}");
        var path = SocketPath;
        try
        {
            // A syslog that has stopped reading makes a datagram sender wait: not for longer than this.
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { SendTimeout = 1000 };
            socket.SendTo(message, new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e)
        {
            if (Interlocked.Exchange(ref warned, 1) == 0)
            {
                warn($"warning: the audit record of this {record.Operation} could not be written to syslog at {path} ({e.Message}); {SocketVariable} names another socket");
            }
        }
    }
}
