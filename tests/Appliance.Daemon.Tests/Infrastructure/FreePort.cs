using System.Net;
using System.Net.Sockets;

namespace Appliance.Daemon.Tests.Infrastructure;

internal static class FreePort
{
    /// <summary>
    /// A loopback port the OS offered just now, for a program that cannot bind port 0 itself (Mosquitto); whoever uses
    /// it must make sure it got it. The daemon's own broker binds port 0 and reports the port instead.
    /// </summary>
    public static int Offered()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
