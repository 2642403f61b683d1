using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Status;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Mqtt;

/// <summary>
/// The daemon's one MQTT 5 client, to its embedded broker or to an external one: the same code either
/// way. A supervising loop connects, resubscribes every registered filter, runs the on-connect hooks and
/// then waits for the connection to drop, backing off between failed attempts. The disconnect handler only
/// wakes the loop; it never reconnects itself. The last will marks the device offline on the status topic.
/// </summary>
public sealed class MqttConnection : BackgroundService
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DisconnectTimeout = TimeSpan.FromSeconds(2);

    private readonly IMqttClient _client;
    private readonly MqttOptions _options;
    private readonly DeviceContext _device;
    private readonly HealthMonitor _health;
    private readonly TimeProvider _time;
    private readonly ILogger<MqttConnection> _logger;
    private readonly (string Host, int Port, string? Username, string? Password, bool Tls, bool AllowUntrusted) _endpoint;
    private readonly Lock _gate = new();
    private readonly List<Subscription> _subscriptions = [];
    private readonly List<Func<CancellationToken, Task>> _onConnected = [];
    private readonly TaskCompletionSource _firstConnection = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _wake = new(0);
    private long _droppedMessages;
    private volatile bool _stopping;

    internal MqttConnection(
        IOptions<MqttOptions> options,
        DeviceContext device,
        HealthMonitor health,
        TimeProvider time,
        ILogger<MqttConnection> logger,
        EmbeddedBroker? embeddedBroker)
    {
        _options = options.Value;
        _device = device;
        _health = health;
        _time = time;
        _logger = logger;
        if (_options.Mode == MqttMode.Embedded)
        {
            ArgumentNullException.ThrowIfNull(embeddedBroker);
            var (host, port) = embeddedBroker.LocalEndpoint;
            _endpoint = (host, port, embeddedBroker.InternalCredentials.Username, embeddedBroker.InternalCredentials.Password, false, false);
        }
        else
        {
            var external = _options.External;
            _endpoint = (external.Host, external.Port, external.Username, external.Password, external.UseTls, external.AllowUntrustedCertificates);
        }

        _client = new MqttClientFactory().CreateMqttClient(new MqttNetLogAdapter(logger));
        _client.DisconnectedAsync += OnDisconnectedAsync;
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    public bool IsConnected => _client.IsConnected;

    /// <summary>Raised with true after each successful (re)connection and with false when a connection drops.</summary>
    public event Action<bool>? ConnectionChanged;

    /// <summary>Messages received and dropped because no handler matched or a handler failed.</summary>
    public long DroppedMessages => Interlocked.Read(ref _droppedMessages);

    /// <summary>
    /// Registers a handler for a topic filter. It is subscribed now when connected and again after every
    /// reconnect. Handlers run on the client's receive path: they must copy what they keep and return quickly.
    /// </summary>
    public async Task SubscribeAsync(string topicFilter, MqttQualityOfServiceLevel qos, Func<MqttApplicationMessage, Task> handler, CancellationToken cancellationToken)
    {
        var subscription = new Subscription(topicFilter, qos, handler);
        lock (_gate)
        {
            _subscriptions.Add(subscription);
        }

        if (_client.IsConnected)
        {
            await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topicFilter, qos).Build(), cancellationToken).ConfigureAwait(false);
        }
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
    /// Publishes when connected. Returns false, without throwing, when the broker is unreachable or refuses the
    /// message: callers that must not lose the message keep it and publish again after reconnecting.
    /// </summary>
    public async Task<bool> TryPublishAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        if (!_client.IsConnected || cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        // A publish already under way is not cancelled half-written (that would leave the connection unusable for
        // everyone else); it is bounded by its own time limit instead.
        using var limit = new CancellationTokenSource(PublishTimeout);
        try
        {
            var result = await _client.PublishAsync(message, limit.Token).ConfigureAwait(false);
            return result.IsSuccess;
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Exceptions.MqttClientNotConnectedException or OperationCanceledException)
        {
            Log.PublishFailed(_logger, message.Topic, ex.Message);
            return false;
        }
    }

    public Task<bool> TryPublishJsonAsync<T>(string topic, T body, MqttQualityOfServiceLevel qos, bool retain, CancellationToken cancellationToken) =>
        TryPublishAsync(
            new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(JsonSerializer.SerializeToUtf8Bytes(body, ContractJson.Options))
                .WithContentType("application/json")
                .WithQualityOfServiceLevel(qos)
                .WithRetainFlag(retain)
                .Build(),
            cancellationToken);

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
            Log.StartingWithoutBroker(_logger, _endpoint.Host, _endpoint.Port, waitLimit);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_client.IsConnected)
        {
            // An orderly stop sends no last will, so say "offline" ourselves before leaving.
            await TryPublishJsonAsync(Topics.Status(_device.DeviceId), _device.Offline("shutdown", _time.GetUtcNow()), MqttQualityOfServiceLevel.AtLeastOnce, retain: true, cancellationToken).ConfigureAwait(false);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(DisconnectTimeout);
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), limit.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
            {
                // Gone already, or not answering: the socket is closed when the client is disposed.
                Log.DisconnectUnclean(_logger, ex.Message);
            }
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        _wake.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(_options.ReconnectInitialDelayMs);
        var maxDelay = TimeSpan.FromMilliseconds(_options.ReconnectMaxDelayMs);
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!_client.IsConnected)
            {
                if (await TryConnectAsync(stoppingToken).ConfigureAwait(false))
                {
                    delay = TimeSpan.FromMilliseconds(_options.ReconnectInitialDelayMs);
                }
                else
                {
                    // Jitter spreads the reconnects of a fleet that lost the same broker.
                    var jittered = delay * (0.8 + 0.4 * Random.Shared.NextDouble());
                    Log.Reconnecting(_logger, _endpoint.Host, _endpoint.Port, jittered);
                    await DelayAsync(jittered, stoppingToken).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(maxDelay.Ticks, delay.Ticks * 2));
                    continue;
                }
            }

            // Sleep until the disconnect handler wakes us, with a periodic look as a safety net.
            try
            {
                await _wake.WaitAsync(TimeSpan.FromSeconds(_options.KeepAliveSeconds), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<bool> TryConnectAsync(CancellationToken cancellationToken)
    {
        var will = JsonSerializer.SerializeToUtf8Bytes(_device.Offline("connection lost"), ContractJson.Options);
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_endpoint.Host, _endpoint.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(_options.External.ClientId ?? $"appliance-{_device.DeviceId}")
            .WithCleanStart(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(_options.KeepAliveSeconds))
            .WithTimeout(TimeSpan.FromSeconds(5))
            .WithWillTopic(Topics.Status(_device.DeviceId))
            .WithWillPayload(will)
            .WithWillRetain(true)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithWillContentType("application/json");
        if (_endpoint.Username is not null)
        {
            builder.WithCredentials(_endpoint.Username, _endpoint.Password ?? "");
        }

        if (_endpoint.Tls)
        {
            builder.WithTlsOptions(tls => tls.UseTls(true)
                .WithAllowUntrustedCertificates(_endpoint.AllowUntrusted)
                .WithIgnoreCertificateChainErrors(_endpoint.AllowUntrusted)
                .WithCertificateValidationHandler(args => _endpoint.AllowUntrusted || args.SslPolicyErrors == System.Net.Security.SslPolicyErrors.None));
        }

        try
        {
            var result = await _client.ConnectAsync(builder.Build(), cancellationToken).ConfigureAwait(false);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                Log.ConnectRefused(_logger, _endpoint.Host, _endpoint.Port, result.ResultCode.ToString(), result.ReasonString);
                return false;
            }

            Subscription[] subscriptions;
            Func<CancellationToken, Task>[] hooks;
            lock (_gate)
            {
                subscriptions = [.. _subscriptions];
                hooks = [.. _onConnected];
            }

            if (subscriptions.Length > 0)
            {
                var subscribe = new MqttClientSubscribeOptionsBuilder();
                foreach (var subscription in subscriptions)
                {
                    subscribe.WithTopicFilter(subscription.Filter, subscription.Qos);
                }

                await _client.SubscribeAsync(subscribe.Build(), cancellationToken).ConfigureAwait(false);
            }

            _health.Report("mqtt", HealthMonitor.Ok, $"connected to {_endpoint.Host}:{_endpoint.Port}");
            Log.Connected(_logger, _endpoint.Host, _endpoint.Port, _options.Mode.ToString());
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
            _health.Report("mqtt", HealthMonitor.Degraded, $"cannot reach {_endpoint.Host}:{_endpoint.Port}: {ex.Message}");
            Log.ConnectFailed(_logger, _endpoint.Host, _endpoint.Port, ex.Message);
            return false;
        }
        catch (Exception ex)
        {
            // A bug in a hook or a subscription must not end the supervisor: log it, back off, try again.
            _health.Report("mqtt", HealthMonitor.Degraded, $"connection set-up failed: {ex.Message}");
            Log.ConnectSetupFailed(_logger, ex);
            return false;
        }
    }

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

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs args)
    {
        if (args.ClientWasConnected && !_stopping)
        {
            _health.Report("mqtt", HealthMonitor.Degraded, $"disconnected: {args.Reason}");
            Log.Disconnected(_logger, args.Reason.ToString(), args.Exception?.Message);
            ConnectionChanged?.Invoke(false);
        }

        _wake.Release();
        return Task.CompletedTask;
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        Subscription[] subscriptions;
        lock (_gate)
        {
            subscriptions = [.. _subscriptions];
        }

        var handled = false;
        foreach (var subscription in subscriptions)
        {
            if (MqttTopicFilterComparer.Compare(args.ApplicationMessage.Topic, subscription.Filter) != MqttTopicFilterCompareResult.IsMatch)
            {
                continue;
            }

            handled = true;
            try
            {
                await subscription.Handler(args.ApplicationMessage).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // A handler bug must not take the connection down; it is logged and counted.
                Interlocked.Increment(ref _droppedMessages);
                Log.HandlerFailed(_logger, args.ApplicationMessage.Topic, ex);
            }
        }

        if (!handled)
        {
            Interlocked.Increment(ref _droppedMessages);
        }
    }

    private sealed record Subscription(string Filter, MqttQualityOfServiceLevel Qos, Func<MqttApplicationMessage, Task> Handler);
}
