using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Graft.IntegrationTests.Support;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// Debian's fix for CVE-2026-92925, applied to a running redis cluster node: the old clusterProcessPacket takes a
/// PING whose hostname extension has no terminating NUL, answers it and reads the hostname as a C string past the
/// extension's end; the fixed one logs a warning and drops the packet. The packet is built here byte by byte, as the
/// fix's upstream test builds it in Tcl, and sent to the node's cluster bus.
/// </summary>
public sealed class DebianRedisClusterFixTests(ITestOutputHelper output) : IDisposable
{

    // The node's nodes.conf names itself and a peer that never runs (nothing listens on 127.0.0.1:1): a node it
    // knows, so that it takes the packets below as the peer's, and whose hostname no real PING of the peer resets.
    private const string Myself = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    private const string Peer = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    private const ushort PeerPort = 1;
    private const ushort PeerBusPort = 2;

    private const string Warning = "Received ping packet with missing null terminator in extension type 0";

    private readonly DebianRedisFix fix = new(output, "cluster");

    public void Dispose() => fix.Dispose();

    [Fact]
    public void TheFixForCve2026_92925BuiltFromDebiansDiffDropsAPingWhoseHostnameHasNoTerminatorLiveUnderLoadAndRevertBringsTheOldCodeBack()
    {
        var redis = fix.Redis;
        var patch = Path.Combine(fix.Work, "cve-2026-92925.so");

        fix.Build(DebianRedisFix.Diff("CVE-2026-92925"), redis.Binary, patch, "clusterProcessPacket");

        using var server = StartClusterNode(redis.Binary, out var port, out var busPort);
        Assert.Equal(["OK"], DebianRedisFix.Cli(port, $"DEBUG POPULATE {DebianRedisFix.Survivors} survivor"));

        // The old code answers the PING, and takes the 32 bytes and whatever follows them up to a NUL as the peer's hostname.
        using (var bus = SendToBus(busPort, PingWithUnterminatedHostname('x')))
        {
            Assert.Equal(PongType, Type(ReadMessage(bus, TimeSpan.FromSeconds(10))));
        }

        Assert.StartsWith(new string('x', 32), PeerHostname(port), StringComparison.Ordinal);

        fix.ApplyUnderLoad(server, port, patch, $"-p {port}");

        // The new code drops the PING, saying why: no answer (the old code's came at once), the hostname as it was. The
        // link stays up: a well-formed PING after it on the same connection is answered.
        var logged = server.Lines().Count;
        using (var bus = SendToBus(busPort, PingWithUnterminatedHostname('y')))
        {
            server.WaitForLine(l => l.Contains(Warning, StringComparison.Ordinal), TimeSpan.FromSeconds(10), logged);
            Assert.Null(ReadMessage(bus, TimeSpan.FromSeconds(1)));
            Assert.StartsWith(new string('x', 32), PeerHostname(port), StringComparison.Ordinal);
            bus.Send(Ping());
            Assert.Equal(PongType, Type(ReadMessage(bus, TimeSpan.FromSeconds(10))));
        }

        var reverted = Shell.Graft("revert", server.Pid.ToString(), "cve-2026-92925");

        Assert.True(reverted.ExitCode == 0, reverted.Stderr);
        using (var bus = SendToBus(busPort, PingWithUnterminatedHostname('z')))
        {
            Assert.Equal(PongType, Type(ReadMessage(bus, TimeSpan.FromSeconds(10))));
        }

        Assert.StartsWith(new string('z', 32), PeerHostname(port), StringComparison.Ordinal);
        Assert.Equal(["value:4242"], DebianRedisFix.Cli(port, "GET survivor:4242"));
    }

    // redis 7.0.15's clusterMsg (src/cluster.h), fields in network byte order: the header up to its union of message
    // bodies, 2256 bytes; a PING's body is its gossip entries (none here), then its extensions.
    private const int HeaderSize = 2256;
    private const ushort PingType = 0;
    private const ushort PongType = 1;
    private const int TotalLengthAt = 4;
    private const int VersionAt = 8;
    private const int PortAt = 10;
    private const int TypeAt = 12;
    private const int SenderAt = 40;
    private const int ExtensionsAt = 2214;
    private const int PlaintextPortAt = 2246;
    private const int BusPortAt = 2248;
    private const int FlagsAt = 2250;
    private const int MessageFlags0At = 2253;
    private const byte ExtensionDataFlag = 1 << 2;
    private const ushort MasterFlag = 1;

    // A clusterMsgPingExt: its length (header included, a multiple of 8), type (0, CLUSTERMSG_EXT_TYPE_HOSTNAME) and
    // 2 unused bytes, then the data.
    private const int ExtensionHeaderSize = 8;

    /// <summary>A well-formed PING from the peer, without extensions (so announcing no hostname).</summary>
    private static byte[] Ping() => Header(HeaderSize, extensions: 0);

    /// <summary>A PING from the peer with one hostname extension of 32 bytes of <paramref name="fill"/>, no NUL among
    /// them: the upstream test's packet.</summary>
    private static byte[] PingWithUnterminatedHostname(char fill)
    {
        const int hostname = 32;
        var packet = Header(HeaderSize + ExtensionHeaderSize + hostname, extensions: 1);
        packet[MessageFlags0At] = ExtensionDataFlag;
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(HeaderSize), ExtensionHeaderSize + hostname);
        packet.AsSpan(HeaderSize + ExtensionHeaderSize, hostname).Fill((byte)fill);
        return packet;
    }

    private static byte[] Header(int totalLength, ushort extensions)
    {
        var packet = new byte[totalLength];
        "RCmb"u8.CopyTo(packet);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(TotalLengthAt), (uint)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(VersionAt), 1);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(TypeAt), PingType);
        Encoding.ASCII.GetBytes(Peer).CopyTo(packet, SenderAt);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(ExtensionsAt), extensions);
        // The peer's own ports, as the node has them: else the node would take the connection's address as the peer's new one.
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(PortAt), PeerPort);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(PlaintextPortAt), 0);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(BusPortAt), PeerBusPort);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(FlagsAt), MasterFlag);
        return packet;
    }

    /// <summary>A connection to the node's cluster bus that has sent <paramref name="packet"/>.</summary>
    private static Socket SendToBus(int busPort, byte[] packet)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(IPAddress.Loopback, busPort);
        socket.Send(packet);
        return socket;
    }

    /// <summary>One whole message the node sent (its length is in its header), or null if none began within <paramref name="timeout"/>.</summary>
    private static byte[]? ReadMessage(Socket socket, TimeSpan timeout)
    {
        var start = new byte[8];
        socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        try
        {
            ReadExactly(socket, start);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            return null;
        }

        Assert.Equal("RCmb"u8.ToArray(), start[..4]);
        var message = new byte[BinaryPrimitives.ReadUInt32BigEndian(start.AsSpan(TotalLengthAt))];
        start.CopyTo(message, 0);
        ReadExactly(socket, message.AsSpan(start.Length));
        return message;
    }

    private static ushort Type(byte[]? message)
    {
        Assert.NotNull(message);
        return BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(TypeAt));
    }

    private static void ReadExactly(Socket socket, Span<byte> buffer)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var count = socket.Receive(buffer[read..]);
            Assert.True(count > 0, "the node closed its cluster bus connection");
            read += count;
        }
    }

    /// <summary>The hostname the node has for the peer: what follows the address in CLUSTER NODES ("ip:port@cport,hostname").</summary>
    private static string PeerHostname(int port)
    {
        var address = DebianRedisFix.Cli(port, "CLUSTER NODES").Single(l => l.StartsWith(Peer, StringComparison.Ordinal)).Split(' ')[1];
        return address.Contains(',') ? address[(address.IndexOf(',') + 1)..] : "";
    }

    /// <summary>A cluster node that serves every slot, its peer known from nodes.conf, once its cluster state is ok (the
    /// benchmark's commands fail with CLUSTERDOWN before).</summary>
    private RunningFixture StartClusterNode(string binary, out int port, out int busPort)
    {
        port = Ports.Free();
        busPort = Ports.Free();
        var directory = Directory.CreateDirectory(Path.Combine(fix.Work, $"redis-{port}")).FullName;
        var nodes = Path.Combine(directory, "nodes.conf");
        File.WriteAllText(nodes, $"""
            {Myself} 127.0.0.1:{port}@{busPort} myself,master - 0 0 1 connected 0-16383
            {Peer} 127.0.0.1:{PeerPort}@{PeerBusPort} master - 0 0 2 connected
            vars currentEpoch 2 lastVoteEpoch 0

            """);
        var server = fix.Start(binary, port, "--cluster-enabled", "yes", "--cluster-config-file", nodes, "--cluster-port", busPort.ToString());
        try
        {
            server.WaitForLine(l => l.Contains("Cluster state changed: ok", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }
}
