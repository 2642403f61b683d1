using System.Threading.Channels;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Mqtt;

/// <summary>A topic filter the daemon subscribes to, with its handler.</summary>
/// <param name="Filter">The MQTT topic filter.</param>
/// <param name="Qos">The QoS to subscribe with.</param>
/// <param name="Handler">Runs on the client's receive path for each matching message: copy what it keeps and return quickly.</param>
/// <param name="RetainAsPublished">
/// Keep the retain flag a publisher set on live messages too (MQTT 5 subscription option), so that a handler can tell a
/// retained message from a fresh one however it arrives.
/// </param>
/// <param name="DaemonOnly">
/// The messages on this filter are for the daemon alone (a meeting's audio). With the embedded broker they are handed to
/// the handler on the publisher's connection, after the broker's access check, and forwarded to no client: one hop
/// instead of two, and no match against every connected client's subscriptions, which costs the broker O(clients) a
/// message. No retained copy is kept. The handler then runs on each publisher's connection, on many threads at once, so
/// it must be thread-safe. With an external broker this is an ordinary subscription.
/// </param>
internal sealed record MqttSubscription(string Filter, MqttQualityOfServiceLevel Qos, Func<MqttApplicationMessage, Task> Handler, bool RetainAsPublished = false, bool DaemonOnly = false)
{
    /// <summary>The filter messages are matched against: a shared subscription's messages carry the topic inside it, not "$share/{group}/…"; null for a malformed shared filter.</summary>
    public string? MatchFilter { get; } = Topics.TryUnwrapSharedSubscription(Filter, out var inner) ? inner : null;
}

/// <summary>
/// The daemon's one MQTT 5 client, to its embedded broker or to an external one: the same code either way. A
/// supervising loop connects, subscribes every registered filter, runs the on-connect hooks and then waits for the
/// connection to drop, backing off between failed attempts. Every SUBSCRIBE is made by that loop, so a broker that drops
/// the connection at any moment (a session taken over by another client with the same client id, a keep-alive time-out,
/// an administrator's kick) only sends the loop round again, and no failure inside the loop ends it. A connection that
/// drops soon after it was made does not reset the back-off, so two clients fighting over one client id (a cloned
/// device id) slow down instead of kicking each other many times a second. The disconnect handler only wakes the loop;
/// it never reconnects itself. The last will marks the device offline on the status topic.
/// </summary>
internal sealed class MqttConnection : BackgroundService
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A connection that lasted this long resets the reconnect back-off; a shorter one keeps it growing.</summary>
    private static readonly TimeSpan StableConnection = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DisconnectTimeout = TimeSpan.FromSeconds(2);

    private readonly IMqttClient _client;
    private readonly MqttOptions _options;
    private readonly DeviceContext _device;
    private readonly HealthMonitor _health;
    // Since the current connection was made: subscriptions the broker refused (they stay refused), and a SUBSCRIBE that
    // failed (its filters are tried again); either keeps the mqtt health check degraded.
    private volatile string? _subscriptionRefusal;
    private volatile string? _subscribeFailure;
    private volatile string _connectedTo = "";
    private readonly TimeProvider _time;
    private readonly ILogger<MqttConnection> _logger;
    private readonly EmbeddedBroker? _embeddedBroker;
    private readonly Lock _gate = new();
    private volatile MqttSubscription[] _subscriptions = []; // replaced whole under _gate, read without it on every message
    private readonly List<Func<CancellationToken, Task>> _onConnected = [];
    private readonly TaskCompletionSource _firstConnection = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private int _subscribedCount;
    private long _connectedAt;
    private int _droppedAfterStable; // 1 when the last connection lasted StableConnection or more; read once by the loop
    private volatile bool _stopping;

    public MqttConnection(IOptions<MqttOptions> options, DeviceContext device, HealthMonitor health, TimeProvider time, ILogger<MqttConnection> logger, EmbeddedBroker? embeddedBroker = null)
    {
        _options = options.Value;
        _device = device;
        _health = health;
        _time = time;
        _logger = logger;
        _embeddedBroker = embeddedBroker;
        if (_options.Mode == MqttMode.Embedded)
        {
            ArgumentNullException.ThrowIfNull(embeddedBroker);
        }

        _client = new MqttClientFactory().CreateMqttClient(new MqttNetLogAdapter(logger));
        _client.DisconnectedAsync += OnDisconnectedAsync;
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    public bool IsConnected => _client.IsConnected;

    /// <summary>Raised with true after each successful (re)connection and with false when a connection drops.</summary>
    public event Action<bool>? ConnectionChanged;

    /// <summary>Where the daemon connects: the embedded broker's bound endpoint, or the external broker.</summary>
    public (string Host, int Port) Endpoint => _embeddedBroker?.LocalEndpoint ?? (_options.External.Host, _options.External.Port);

    /// <summary>
    /// Registers a handler for a topic filter. The supervising loop subscribes it at once when connected, and again after
    /// every reconnect; nothing here talks to the broker, so a registration never fails. A
    /// <see cref="MqttSubscription.DaemonOnly"/> filter goes to the embedded broker instead, when there is one.
    /// </summary>
    public void Subscribe(MqttSubscription subscription)
    {
        if (subscription.DaemonOnly && _embeddedBroker is not null)
        {
            _embeddedBroker.Deliver(subscription.Filter, message => RunHandlerAsync(subscription, message));
            return;
        }

        lock (_gate)
        {
            _subscriptions = [.. _subscriptions, subscription];
        }

        _wake.Writer.TryWrite(true);
    }

    /// <summary>Registers work to do after every (re)connection, such as publishing the retained status.</summary>
    public void OnConnected(Func<CancellationToken, Task> hook)
    {
        lock (_gate)
        {
            _onConnected.Add(hook);
        }
    }

    /// <summary>
    /// Publishes a contract payload on <paramref name="topic"/> with the channel's QoS and retain flag. Returns false,
    /// without throwing, when the broker is unreachable or refuses the message.
    /// </summary>
    public Task<bool> TryPublishAsync<T>(ContractChannel<T> channel, string topic, T payload, CancellationToken cancellationToken) =>
        TryPublishAsync(
            new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(channel.Serialize(payload))
                .WithContentType("application/json")
                .WithQualityOfServiceLevel(channel.Qos)
                .WithRetainFlag(channel.Retained)
                .Build(),
            cancellationToken);

    /// <summary>Clears the retained message of a retained channel's topic (an empty retained message).</summary>
    public Task<bool> TryClearRetainedAsync(ContractChannel channel, string topic, CancellationToken cancellationToken) =>
        TryPublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithQualityOfServiceLevel(channel.Qos).WithRetainFlag(true).WithPayload([]).Build(), cancellationToken);

    /// <summary>
    /// Publishes when connected. Returns false, without throwing, when the broker is unreachable or refuses the message:
    /// callers that must not lose the message keep it and publish again after reconnecting.
    /// </summary>
    public async Task<bool> TryPublishAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        if (!_client.IsConnected || cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        // A publish already under way is not cancelled half-written (that would leave the connection unusable for
        // everyone else); it is bounded by its own time limit instead. The limit bounds a socket, so it runs on real
        // time, not on the daemon's clock: a clock moved forward (a test's) must not cut a publish in flight.
        using var limit = new CancellationTokenSource(PublishTimeout);
        try
        {
            var result = await _client.PublishAsync(message, limit.Token).ConfigureAwait(false);
            return result.IsSuccess;
        }
#pragma warning disable CA1031 // "Try": a message the client refuses (a bad topic, a packet too large) is a false, like a lost connection.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MqttLog.PublishFailed(_logger, message.Topic, ex.Message);
            return false;
        }
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
        var waitLimit = TimeSpan.FromSeconds(_options.StartupConnectTimeoutSeconds);
        try
        {
            await _firstConnection.Task.WaitAsync(waitLimit, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var (host, port) = Endpoint;
            MqttLog.StartingWithoutBroker(_logger, host, port, waitLimit);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_client.IsConnected)
        {
            // An orderly stop sends no last will, so say "offline" ourselves before leaving.
            await TryPublishAsync(Channels.Status, Topics.Status(_device.DeviceId), _device.Offline("shutdown", _time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(DisconnectTimeout);
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), limit.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
            {
                // Gone already, or not answering: the socket is closed when the client is disposed.
                MqttLog.DisconnectUnclean(_logger, ex.Message);
            }
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var initialDelay = TimeSpan.FromMilliseconds(_options.ReconnectInitialDelayMs);
        var maxDelay = TimeSpan.FromMilliseconds(_options.ReconnectMaxDelayMs);
        var delay = initialDelay;
        var backOff = false;
        Task<bool>? woken = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!_client.IsConnected)
                {
                    if (Interlocked.Exchange(ref _droppedAfterStable, 0) == 1)
                    {
                        delay = initialDelay; // a connection that held: reconnect at once, with the back-off reset
                        backOff = false;
                    }

                    if (backOff)
                    {
                        // Jitter spreads the reconnects of a fleet that lost the same broker.
                        var jittered = delay * (0.8 + 0.4 * Random.Shared.NextDouble());
                        var (host, port) = Endpoint;
                        MqttLog.Reconnecting(_logger, host, port, jittered);
                        await DelayAsync(jittered, stoppingToken).ConfigureAwait(false);
                        delay = TimeSpan.FromTicks(Math.Min(maxDelay.Ticks, delay.Ticks * 2));
                    }

                    backOff = true; // a failed attempt, or a connection that drops before it is stable, waits first
                    if (!await TryConnectAsync(stoppingToken).ConfigureAwait(false))
                    {
                        continue;
                    }
                }
                else
                {
                    await SubscribeNewAsync(stoppingToken).ConfigureAwait(false);
                }

                // Sleep until the disconnect handler or a new subscription wakes us, with a periodic look as a safety net.
                using var look = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                woken ??= _wake.Reader.WaitToReadAsync(stoppingToken).AsTask();
                if (await Task.WhenAny(woken, Task.Delay(TimeSpan.FromSeconds(_options.KeepAliveSeconds), _time, look.Token)).ConfigureAwait(false) == woken)
                {
                    await woken.ConfigureAwait(false);
                    _wake.Reader.TryRead(out _);
                    woken = null;
                }

                await look.CancelAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The supervisor must outlive any failure: it logs, backs off and connects again.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                woken = null;
                _health.Report("mqtt", HealthStatus.Degraded, $"connection loop failed: {ex.Message}");
                MqttLog.ConnectSetupFailed(_logger, ex);
                backOff = true;
            }
        }
    }

    private async Task<bool> TryConnectAsync(CancellationToken cancellationToken)
    {
        var (host, port) = Endpoint;
        var will = Channels.Status.Serialize(_device.Offline("connection lost"));
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(_options.External.ClientIdFor(_device.DeviceId))
            .WithCleanStart(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(_options.KeepAliveSeconds))
            .WithMaximumPacketSize((uint)_options.MaximumPacketSize)
            .WithTimeout(TimeSpan.FromSeconds(5))
            .WithWillTopic(Topics.Status(_device.DeviceId))
            .WithWillPayload(will)
            .WithWillRetain(Channels.Status.Retained)
            .WithWillQualityOfServiceLevel(Channels.Status.Qos)
            .WithWillContentType("application/json");
        if (_embeddedBroker is not null)
        {
            builder.WithCredentials(_embeddedBroker.InternalCredentials.Username, _embeddedBroker.InternalCredentials.Password);
        }
        else
        {
            var external = _options.External;
            if (external.Username is not null)
            {
                builder.WithCredentials(external.Username, external.Password ?? "");
            }

            if (external.UseTls)
            {
                builder.WithTlsOptions(tls => tls.UseTls(true)
                    .WithAllowUntrustedCertificates(external.AllowUntrustedCertificates)
                    .WithIgnoreCertificateChainErrors(external.AllowUntrustedCertificates)
                    .WithCertificateValidationHandler(args => external.AllowUntrustedCertificates || args.SslPolicyErrors == System.Net.Security.SslPolicyErrors.None));
            }
        }

        try
        {
            var result = await _client.ConnectAsync(builder.Build(), cancellationToken).ConfigureAwait(false);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                MqttLog.ConnectRefused(_logger, host, port, result.ResultCode.ToString(), result.ReasonString);
                return false;
            }

            Volatile.Write(ref _subscribedCount, 0);
            Interlocked.Exchange(ref _connectedAt, _time.GetTimestamp());
            _subscriptionRefusal = null;
            _subscribeFailure = null;
            _connectedTo = $"connected to {host}:{port}";
            await SubscribeNewAsync(cancellationToken).ConfigureAwait(false);
            Func<CancellationToken, Task>[] hooks;
            lock (_gate)
            {
                hooks = [.. _onConnected];
            }

            ReportSubscriptions();
            MqttLog.Connected(_logger, host, port, _options.Mode.ToString());

            foreach (var hook in hooks)
            {
                await hook(cancellationToken).ConfigureAwait(false);
            }

            _firstConnection.TrySetResult();
            ConnectionChanged?.Invoke(true);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Exceptions.MqttClientNotConnectedException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            _health.Report("mqtt", HealthStatus.Degraded, $"cannot reach {host}:{port}: {ex.Message}");
            MqttLog.ConnectFailed(_logger, host, port, ex.Message);
            return false;
        }
        catch (Exception ex)
        {
            // A bug in a hook or a subscription must not end the supervisor: log it, drop the half-set-up connection
            // (so the next round connects again and runs every hook), back off, try again.
            _health.Report("mqtt", HealthStatus.Degraded, $"connection set-up failed: {ex.Message}");
            MqttLog.ConnectSetupFailed(_logger, ex);
            await DropAsync().ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>Subscribes the filters registered since the last SUBSCRIBE of this connection (all of them after a connect).</summary>
    private async Task SubscribeNewAsync(CancellationToken cancellationToken)
    {
        var registered = _subscriptions;
        var pending = registered[Volatile.Read(ref _subscribedCount)..];

        if (pending.Length == 0)
        {
            return;
        }

        var subscribe = new MqttClientSubscribeOptionsBuilder();
        foreach (var subscription in pending)
        {
            subscribe.WithTopicFilter(filter => filter.WithTopic(subscription.Filter).WithQualityOfServiceLevel(subscription.Qos).WithRetainAsPublished(subscription.RetainAsPublished));
        }

        try
        {
            var result = await _client.SubscribeAsync(subscribe.Build(), cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _subscribedCount, pending.Length);

            var refused = result.Items.Where(i => i.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2).ToList();
            if (refused.Count > 0)
            {
                // Refusals (not authorised, not supported) do not pass by themselves: say so rather than retry them.
                // MQTTnet's own broker answers the reason codes of one SUBSCRIBE out of order, so a shared subscription's
                // refusal is told by its code, not by the filter it comes back with.
                var reasons = string.Join("; ", refused.Select(i => i.ResultCode == MqttClientSubscribeResultCode.SharedSubscriptionsNotSupported
                    ? $"{SharedFilters(pending)}: {i.ResultCode}: this broker does not serve MQTT 5 shared subscriptions, which fleet mode needs (use Mosquitto 2, EMQX, HiveMQ or VerneMQ, or leave Fleet:Group unset)"
                    : $"{i.TopicFilter.Topic}: {i.ResultCode}"));
                _subscriptionRefusal = $"the broker refused subscriptions: {reasons}";
                _health.Report("mqtt", HealthStatus.Degraded, _subscriptionRefusal);
                MqttLog.SubscribeRefused(_logger, reasons);
            }

            if (_subscribeFailure is not null)
            {
                // A retry made the filters an earlier SUBSCRIBE failed to make.
                _subscribeFailure = null;
                ReportSubscriptions();
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The connection went away mid-subscribe (or the broker did not answer): the filters stay pending, and the
            // loop subscribes them on its next round or after it reconnects.
            MqttLog.SubscribeFailed(_logger, pending.Length, ex.Message);
            _subscribeFailure = $"{pending.Length} subscriptions not made yet, tried again shortly: {ex.Message}";
            _health.Report("mqtt", HealthStatus.Degraded, _subscribeFailure);
        }
    }

    /// <summary>The mqtt health check once subscribed: ok (and with it, requests are taken), or degraded with why not.</summary>
    private void ReportSubscriptions()
    {
        var problem = _subscriptionRefusal ?? _subscribeFailure;
        _health.Report("mqtt", problem is null ? HealthStatus.Ok : HealthStatus.Degraded, problem ?? _connectedTo);
    }

    private static string SharedFilters(IEnumerable<MqttSubscription> subscriptions) =>
        string.Join(", ", subscriptions.Select(s => s.Filter).Where(f => f.StartsWith("$share/", StringComparison.Ordinal)));

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Closes a connection whose set-up failed, without waiting for a broker that may not answer.</summary>
    private async Task DropAsync()
    {
        using var limit = new CancellationTokenSource(DisconnectTimeout); // a socket's bound: real time, as a publish's
        try
        {
            await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), limit.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Best effort: the socket goes when the client is disposed or reconnects.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MqttLog.DisconnectUnclean(_logger, ex.Message);
        }
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs args)
    {
        if (args.ClientWasConnected)
        {
            Volatile.Write(ref _droppedAfterStable, _time.GetElapsedTime(Interlocked.Read(ref _connectedAt)) >= StableConnection ? 1 : 0);
        }

        if (args.ClientWasConnected && !_stopping)
        {
            var reason = DisconnectReason(args);
            _health.Report("mqtt", HealthStatus.Degraded, $"disconnected: {reason}");
            MqttLog.Disconnected(_logger, reason, args.Exception?.Message);
            ConnectionChanged?.Invoke(false);
        }

        _wake.Writer.TryWrite(true);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Says why the connection dropped, in words an operator can act on. A broker that takes the session over for
    /// another client with the daemon's client id says so in an MQTT 5 DISCONNECT (reason 0x8E); Mosquitto 2.0 closes
    /// the socket without one, which is told apart from a network failure by the missing exception.
    /// </summary>
    private string DisconnectReason(MqttClientDisconnectedEventArgs args)
    {
        var clientId = _options.External.ClientIdFor(_device.DeviceId);
        var stated = string.IsNullOrEmpty(args.ReasonString) ? "" : $" ({args.ReasonString})";
        return args.Reason switch
        {
            MqttClientDisconnectReason.SessionTakenOver =>
                $"SessionTakenOver: another client connected with this device's client id {clientId}{stated}; is the device id {_device.DeviceId} used twice?",
            MqttClientDisconnectReason.NormalDisconnection when args.Exception is null =>
                $"the broker closed the connection without a reason: a session taken over by another client with this device's client id {clientId} (is the device id {_device.DeviceId} used twice?), an administrator's kick, or the broker stopping",
            _ => $"{args.Reason}{stated}",
        };
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        foreach (var subscription in _subscriptions)
        {
            if (subscription.MatchFilter is not { } filter
                || MqttTopicFilterComparer.Compare(args.ApplicationMessage.Topic, filter) != MqttTopicFilterCompareResult.IsMatch)
            {
                continue;
            }

            await RunHandlerAsync(subscription, args.ApplicationMessage).ConfigureAwait(false);
        }
    }

    private async Task RunHandlerAsync(MqttSubscription subscription, MqttApplicationMessage message)
    {
        try
        {
            await subscription.Handler(message).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A handler bug must not take the connection down; it is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MqttLog.HandlerFailed(_logger, message.Topic, ex);
        }
    }
}
