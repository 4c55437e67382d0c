using System.Net;
using System.Net.Sockets;

namespace Graft.IntegrationTests.Support;

/// <summary>TCP ports on 127.0.0.1 for the real daemons the tests start.</summary>
internal static class Ports
{
    /// <summary>A port nothing listens on now: the kernel's choice for a listener closed at once.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
