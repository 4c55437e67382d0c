using System.Net.Sockets;

namespace Graft.Daemon;

/// <summary>Who is at the other end of a Unix socket, as the kernel recorded it when it connected (SO_PEERCRED): no claim of the peer's own.</summary>
internal sealed record PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    public static PeerCredentials Of(Socket connection)
    {
        // struct ucred: pid, uid, gid.
        var credentials = new byte[12];
        connection.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        return new PeerCredentials(BitConverter.ToInt32(credentials, 0), BitConverter.ToUInt32(credentials, 4), BitConverter.ToUInt32(credentials, 8));
    }
}
