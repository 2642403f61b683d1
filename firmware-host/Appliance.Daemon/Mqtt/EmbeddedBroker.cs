using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Appliance.Daemon.Device;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Server;

namespace Appliance.Daemon.Mqtt;

/// <summary>
/// The MQTT 5 broker the daemon runs by default (MQTTnet server): a plain TCP endpoint on the configured
/// address and port, optionally a TLS endpoint, with authentication and the per-device ACL of
/// <see cref="BrokerAccessControl"/>, and a maximum packet size enforced by <see cref="GuardedTcpTransport"/>. Started before the daemon's own client connects to it; stopped last. A port of 0
/// binds a free port, reported by <see cref="LocalEndpoint"/> and <see cref="TlsPort"/> once started.
/// </summary>
internal sealed class EmbeddedBroker : IHostedService, IDisposable
{
    private readonly EmbeddedBrokerOptions _options;
    private readonly int _maximumPacketSize;
    private readonly string _daemonClientId;
    private readonly ILogger<EmbeddedBroker> _logger;
    private readonly Lock _deliveryGate = new();
    private MqttServer? _server;
    private MqttServerOptions? _serverOptions;
    private volatile (string Filter, Func<MqttApplicationMessage, Task> Handler)[] _daemonOnly = []; // replaced whole under the gate, read without it

    public EmbeddedBroker(IOptions<MqttOptions> options, DeviceContext device, ILogger<EmbeddedBroker> logger)
    {
        _options = options.Value.Broker;
        _maximumPacketSize = options.Value.MaximumPacketSize;
        _daemonClientId = options.Value.External.ClientIdFor(device.DeviceId);
        _logger = logger;
        InternalCredentials = ("appliance-daemon", Convert.ToHexString(RandomNumberGenerator.GetBytes(24)));
    }

    /// <summary>The account of the daemon's own client: random per start, never configured or stored.</summary>
    public (string Username, string Password) InternalCredentials { get; }

    /// <summary>The endpoint the daemon's own client uses to reach this broker; the port is the bound one once started.</summary>
    public (string Host, int Port) LocalEndpoint
    {
        get
        {
            var address = IPAddress.Parse(_options.BindAddress);
            var host = address.Equals(IPAddress.Any) ? "127.0.0.1" : address.Equals(IPAddress.IPv6Any) ? "::1" : address.ToString();
            return (host, _serverOptions?.DefaultEndpointOptions.Port ?? _options.Port);
        }
    }

    /// <summary>The bound TLS port once started; null without TLS.</summary>
    public int? TlsPort => _options.Tls.Enabled ? _serverOptions?.TlsEndpointOptions.Port ?? _options.Tls.Port : null;

    /// <summary>
    /// Hands every message published on <paramref name="filter"/> to <paramref name="handler"/> on the publisher's
    /// connection, once the access check has let it through, and forwards it to no client (nor keeps it retained): the
    /// daemon is its only reader. Call before clients publish (at start-up). The handler runs on the receive loop of
    /// each publishing connection, so on many threads at once (one call at a time per publisher, in its order); it must
    /// be thread-safe, copy what it keeps and return quickly, as it holds up that publisher's next packet. A message
    /// matching several filters goes to the first one registered.
    /// </summary>
    /// <param name="filter">An MQTT topic filter (not a shared subscription).</param>
    /// <param name="handler">Runs for each matching message; it must not throw.</param>
    /// <exception cref="ArgumentException">An empty filter, or a shared subscription (<c>$share/…</c>).</exception>
    public void Deliver(string filter, Func<MqttApplicationMessage, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(filter);
        ArgumentNullException.ThrowIfNull(handler);
        if (filter.StartsWith("$share/", StringComparison.Ordinal))
        {
            throw new ArgumentException("a shared subscription has no meaning for the daemon's own delivery", nameof(filter));
        }

        lock (_deliveryGate)
        {
            _daemonOnly = [.. _daemonOnly, (filter, handler)];
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!IPAddress.TryParse(_options.BindAddress, out var address))
        {
            throw new OptionsValidationException(nameof(MqttOptions), typeof(MqttOptions), [$"Mqtt:Broker:BindAddress '{_options.BindAddress}' is not an IP address."]);
        }

        var (v4, v6) = BindPair(address);
        var builder = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(v4)
            .WithDefaultEndpointBoundIPV6Address(v6)
            .WithDefaultEndpointPort(_options.Port)
            .WithPersistentSessions(false)
            .WithDefaultCommunicationTimeout(TimeSpan.FromSeconds(_options.CommunicationTimeoutSeconds))
            .WithMaxPendingMessagesPerClient(20000);
        if (_options.Tls.Enabled)
        {
            builder.WithEncryptedEndpoint()
                .WithEncryptedEndpointBoundIPAddress(v4)
                .WithEncryptedEndpointBoundIPV6Address(v6)
                .WithEncryptedEndpointPort(_options.Tls.Port)
                .WithEncryptionCertificate(LoadCertificate(_options.Tls))
                .WithEncryptionSslProtocol(System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13);
        }

        var access = new BrokerAccessControl(_options.Authentication, InternalCredentials, _daemonClientId);
        // MQTTnet writes the bound port back into the endpoint options, so a port of 0 reads back as the one the OS gave.
        _serverOptions = builder.Build();
        _server = new MqttServerFactory().CreateMqttServer(_serverOptions, [new GuardedTcpTransport(_maximumPacketSize, _daemonClientId, _logger)], new MqttNetLogAdapter(_logger));
        _server.ValidatingConnectionAsync += access.ValidateConnectionAsync;
        _server.InterceptingSubscriptionAsync += BrokerAccessControl.InterceptSubscriptionAsync;
        _server.InterceptingPublishAsync += InterceptPublishAsync;
        await _server.StartAsync().ConfigureAwait(false);
        MqttLog.BrokerListening(
            _logger,
            _options.BindAddress,
            LocalEndpoint.Port,
            TlsPort is { } tls ? $"TLS on port {tls}" : "no TLS",
            _options.Authentication.Enabled ? $"authentication on, {_options.Authentication.Users.Count} accounts" : "authentication off",
            _maximumPacketSize);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { IsStarted: true })
        {
            await _server.StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => _server?.Dispose();

    /// <summary>The access check, then the daemon's own filters: a message one of them takes goes no further.</summary>
    private async Task InterceptPublishAsync(InterceptingPublishEventArgs args)
    {
        await BrokerAccessControl.InterceptPublishAsync(args).ConfigureAwait(false);
        if (!args.ProcessPublish)
        {
            return;
        }

        foreach (var (filter, handler) in _daemonOnly)
        {
            if (MqttTopicFilterComparer.Compare(args.ApplicationMessage.Topic, filter) == MqttTopicFilterCompareResult.IsMatch)
            {
                args.ProcessPublish = false;
                await handler(args.ApplicationMessage).ConfigureAwait(false);
                return;
            }
        }
    }

    private static (IPAddress V4, IPAddress V6) BindPair(IPAddress address)
    {
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            var v6 = IPAddress.IsLoopback(address) ? IPAddress.IPv6Loopback : address.Equals(IPAddress.Any) ? IPAddress.IPv6Any : IPAddress.None;
            return (address, v6);
        }

        var v4 = IPAddress.IsLoopback(address) ? IPAddress.Loopback : address.Equals(IPAddress.IPv6Any) ? IPAddress.Any : IPAddress.None;
        return (v4, address);
    }

    private static X509Certificate2 LoadCertificate(BrokerTlsOptions tls)
    {
        if (string.IsNullOrEmpty(tls.CertificatePath))
        {
            throw new OptionsValidationException(nameof(MqttOptions), typeof(MqttOptions), ["Mqtt:Broker:Tls:CertificatePath is required when TLS is enabled."]);
        }

        if (tls.KeyPath is { Length: > 0 } keyPath)
        {
            using var pem = X509Certificate2.CreateFromPemFile(tls.CertificatePath, keyPath);
            // SslStream on Linux needs the key in a form it can hand to OpenSSL; a PKCS#12 round-trip gives that.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }

        return X509CertificateLoader.LoadPkcs12FromFile(tls.CertificatePath, tls.CertificatePassword);
    }
}
