using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Appliance.Daemon.Mqtt;

/// <summary>
/// The embedded broker's TCP and TLS listeners, in place of MQTTnet's own: every connection reads through a
/// <see cref="PacketSizeGuard"/>, so a packet over the maximum packet size is refused from its fixed header, before
/// anything is buffered (MQTTnet's reader would allocate the announced body first). An MQTT 5 client learns the
/// limit from the CONNACK's Maximum Packet Size property (MQTT 5.0 §3.2.2.3.6) and, when it sends more, gets a
/// DISCONNECT with reason 0x95 "Packet too large" (§3.14.2.1) before the connection closes; an MQTT 3.1.1 client,
/// which has no such property, is disconnected.
/// </summary>
/// <remarks>
/// Listens on the endpoints of <see cref="MqttServerOptions"/>: the plain endpoint and, when enabled, the TLS one, on
/// their IPv4 and IPv6 addresses (<see cref="IPAddress.None"/> skips a family; an IPv6 address the board lacks is a
/// warning). A port of 0 is written back as the bound one, as MQTTnet does. A TLS handshake must finish within the
/// server's communication timeout. Started and stopped by the MQTTnet server on its own thread; connections are
/// served concurrently, each on its own task.
/// </remarks>
/// <param name="maximumPacketSize">The limit, in bytes with the fixed header.</param>
/// <param name="daemonClientId">
/// The daemon's own client id. Once the broker has accepted that client (its access control lets only the daemon,
/// with the per-start internal credentials, use the id), its connection has no limit and is told none: the daemon's
/// replies are bounded by the contract, not by a setting, and it must never be cut off by its own broker.
/// </param>
/// <param name="logger">Where refusals and listener problems go.</param>
internal sealed class GuardedTcpTransport(int maximumPacketSize, string daemonClientId, ILogger logger) : IMqttServerAdapter
{
    private readonly List<Socket> _listeners = [];
    private CancellationTokenSource? _stopping;

    /// <inheritdoc/>
    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <inheritdoc/>
    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        if (_stopping is not null)
        {
            throw new InvalidOperationException("The broker's listeners are already started.");
        }

        _stopping = new CancellationTokenSource();
        Listen(options, options.DefaultEndpointOptions, null, logger);
        if (options.TlsEndpointOptions is { IsEnabled: true } tls)
        {
            Listen(options, tls, tls, logger);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync()
    {
        Close();
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public void Dispose() => Close();

    private void Close()
    {
        _stopping?.Cancel();
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        _listeners.Clear();
        _stopping?.Dispose();
        _stopping = null;
    }

    private void Listen(MqttServerOptions options, MqttServerTcpEndpointBaseOptions endpoint, MqttServerTlsTcpEndpointOptions? tls, IMqttNetLogger mqttLogger)
    {
        foreach (var address in new[] { endpoint.BoundInterNetworkAddress, endpoint.BoundInterNetworkV6Address })
        {
            if (address.Equals(IPAddress.None))
            {
                continue;
            }

            Socket? socket = null;
            try
            {
                socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                if (address.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    socket.DualMode = false; // the IPv4 listener has the same port
                }

                socket.Bind(new IPEndPoint(address, endpoint.Port));
                socket.Listen(endpoint.ConnectionBacklog);
            }
            catch (SocketException e) when (IsMissingAddress(e) && address.AddressFamily == AddressFamily.InterNetworkV6
                && !endpoint.BoundInterNetworkAddress.Equals(IPAddress.None))
            {
                // The IPv6 partner of an IPv4 listener, on a board without IPv6 (or without that address).
                socket?.Dispose();
                MqttLog.ListenerSkipped(logger, address.ToString(), e.Message);
                continue;
            }
            catch (SocketException e)
            {
                socket?.Dispose();
                var (where, setting) = IsMissingAddress(e)
                    ? (address.ToString(), "Mqtt:Broker:BindAddress")
                    : (new IPEndPoint(address, endpoint.Port).ToString(), tls is null ? "Mqtt:Broker:Port" : "Mqtt:Broker:Tls:Port");
                throw new IOException($"the embedded broker cannot listen on {where} ({setting}): {e.Message}", e);
            }
            catch
            {
                socket?.Dispose();
                throw;
            }

            endpoint.Port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            _listeners.Add(socket);
            _ = AcceptAsync(socket, options, endpoint, tls, mqttLogger, _stopping!.Token);
        }
    }

    private static bool IsMissingAddress(SocketException e) =>
        e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported;

    private async Task AcceptAsync(Socket listener, MqttServerOptions options, MqttServerTcpEndpointBaseOptions endpoint, MqttServerTlsTcpEndpointOptions? tls, IMqttNetLogger mqttLogger, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // A connection reset before it was accepted, or the process out of descriptors: keep listening.
                MqttLog.AcceptFailed(logger, e.SocketErrorCode.ToString(), e.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            _ = Task.Run(() => ServeAsync(client, options, endpoint, tls, mqttLogger, stopping), CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket client, MqttServerOptions options, MqttServerTcpEndpointBaseOptions endpoint, MqttServerTlsTcpEndpointOptions? tls, IMqttNetLogger mqttLogger, CancellationToken stopping)
    {
        var remote = client.RemoteEndPoint;
        var local = client.LocalEndPoint;
        Stream stream = new NetworkStream(client, ownsSocket: true);
        try
        {
            client.NoDelay = endpoint.NoDelay;
            X509Certificate2? clientCertificate = null;
            if (tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false, tls.RemoteCertificateValidationCallback);
                stream = ssl;
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                handshake.CancelAfter(options.DefaultCommunicationTimeout);
                await ssl.AuthenticateAsServerAsync(
                    new SslServerAuthenticationOptions
                    {
                        ServerCertificate = tls.CertificateProvider.GetCertificate(),
                        ClientCertificateRequired = tls.ClientCertificateRequired,
                        EnabledSslProtocols = tls.SslProtocol,
                        CertificateRevocationCheckMode = tls.CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck,
                        EncryptionPolicy = EncryptionPolicy.RequireEncryption,
                        CipherSuitesPolicy = tls.CipherSuitesPolicy,
                    },
                    handshake.Token).ConfigureAwait(false);
                clientCertificate = ssl.RemoteCertificate is { } certificate ? certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.Export(X509ContentType.Cert)) : null;
            }

            if (ClientHandler is not { } handler)
            {
                return;
            }

            var guard = new PacketSizeGuard(new MqttTcpChannel(stream, local, remote, clientCertificate), maximumPacketSize);
            var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
            using var adapter = new MqttChannelAdapter(guard, formatter, mqttLogger) { AllowPacketFragmentation = endpoint.AllowPacketFragmentation };
            await handler(new PacketSizeLimitedAdapter(adapter, guard, daemonClientId, options.DefaultCommunicationTimeout, logger)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            // A client that goes away or fails its TLS handshake is the client's problem, not the broker's.
            MqttLog.ClientConnectionEnded(logger, remote?.ToString() ?? "?", e.Message);
        }
#pragma warning disable CA1031 // One connection's failure, whatever it is, must not go unobserved or touch the others.
        catch (Exception e)
#pragma warning restore CA1031
        {
            MqttLog.ClientConnectionFailed(logger, remote?.ToString() ?? "?", e);
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One connection as the MQTTnet server sees it: announces the maximum packet size in the CONNACK, and turns the
    /// end of stream that <see cref="PacketSizeGuard"/> makes of an oversized packet into a logged refusal and, for an
    /// MQTT 5 client, a DISCONNECT 0x95.
    /// </summary>
    private sealed class PacketSizeLimitedAdapter(MqttChannelAdapter inner, PacketSizeGuard guard, string daemonClientId, TimeSpan communicationTimeout, ILogger logger) : IMqttChannelAdapter
    {
        private string? _clientId;

        public long BytesReceived => inner.BytesReceived;

        public long BytesSent => inner.BytesSent;

        public X509Certificate2 ClientCertificate => inner.ClientCertificate;

        public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

        public EndPoint LocalEndPoint => inner.LocalEndPoint;

        public bool IsSecureConnection => inner.IsSecureConnection;

        public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

        public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

        public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

        public void ResetStatistics() => inner.ResetStatistics();

        public void Dispose()
        {
            // The transport disposes the channel adapter it made, once the server is done with the connection.
        }

        public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken)
        {
            if (packet is MqttConnAckPacket connAck)
            {
                if (connAck.ReasonCode == MqttConnectReasonCode.Success && _clientId == daemonClientId)
                {
                    guard.Lift(); // the daemon itself, past the broker's access control
                }
                else
                {
                    connAck.MaximumPacketSize = (uint)guard.MaximumPacketSize;
                }
            }

            return inner.SendPacketAsync(packet, cancellationToken);
        }

        public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
        {
            var packet = await inner.ReceivePacketAsync(cancellationToken).ConfigureAwait(false);
            if (packet is MqttConnectPacket connect)
            {
                _clientId = connect.ClientId;
            }

            if (packet is null && guard.RefusedPacket is { } refused)
            {
                MqttLog.PacketTooLarge(logger, PacketName(refused.PacketType), refused.Bytes, _clientId switch { null => "(before CONNECT)", "" => "(empty id)", var id => id }, RemoteEndPoint?.ToString() ?? "?", guard.MaximumPacketSize);
                if (PacketFormatterAdapter.ProtocolVersion == MqttProtocolVersion.V500 && _clientId is not null)
                {
                    await TryDisconnectAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            return packet!;
        }

        private async Task TryDisconnectAsync(CancellationToken cancellationToken)
        {
            // Bounded: a client that writes without reading can hold the connection's send lock.
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(communicationTimeout);
            cancellationToken = bounded.Token;
            try
            {
                var disconnect = new MqttDisconnectPacket
                {
                    ReasonCode = MqttDisconnectReasonCode.PacketTooLarge,
                    ReasonString = $"packets are limited to {guard.MaximumPacketSize} bytes",
                };
                await inner.SendPacketAsync(disconnect, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or MQTTnet.Exceptions.MqttCommunicationException)
            {
                // The client may already have gone; the connection closes either way.
            }
        }

        private static string PacketName(int packetType) => packetType switch
        {
            1 => "CONNECT",
            3 => "PUBLISH",
            8 => "SUBSCRIBE",
            10 => "UNSUBSCRIBE",
            15 => "AUTH",
            _ => $"type-{packetType}",
        };
    }
}
