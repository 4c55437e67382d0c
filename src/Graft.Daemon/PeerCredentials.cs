using System.Net.Sockets;

namespace Graft.Daemon;

/// <summary>
/// Who is at the other end of a connection to one of graftd's Unix sockets (SO_PEERCRED): what
/// the kernel recorded when the peer connected, which the peer cannot choose.
/// </summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    // sys/socket.h
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    public static PeerCredentials Of(Socket connection)
    {
        // struct ucred: pid, uid, gid.
        Span<byte> credentials = stackalloc byte[12];
        connection.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        return new PeerCredentials(BitConverter.ToInt32(credentials), BitConverter.ToUInt32(credentials[4..]), BitConverter.ToUInt32(credentials[8..]));
    }
}
