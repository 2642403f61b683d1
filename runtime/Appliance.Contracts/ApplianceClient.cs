using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Protocol;

namespace Appliance.Contracts;

/// <summary>How to reach one device's daemon.</summary>
public sealed record ApplianceClientOptions
{
    public required string Host { get; init; }
    public int Port { get; init; } = 1883;
    public required string DeviceId { get; init; }
    public string? Username { get; init; }
    public string? Password { get; init; }
    public bool UseTls { get; init; }

    /// <summary>Accept a self-signed or otherwise untrusted broker certificate (development boards only).</summary>
    public bool AllowUntrustedServerCertificate { get; init; }

    /// <summary>MQTT client id; a random one when not set.</summary>
    public string? ClientId { get; init; }

    /// <summary>How long a call waits for its final reply unless the call says otherwise.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Per-call settings.</summary>
public sealed record RpcCallOptions
{
    /// <summary>Set for commands: a redelivered request with the same key is not acted on twice.</summary>
    public string? IdempotencyKey { get; init; }
    public TimeSpan? Timeout { get; init; }
}

/// <summary>A message seen on a topic the client observes. The payload is a copy owned by the receiver.</summary>
public sealed record ObservedMessage(string Topic, byte[] Payload, bool Retain)
{
    public T? Deserialize<T>() => JsonSerializer.Deserialize<T>(Payload, ContractJson.Options);
}

/// <summary>
/// A small MQTT 5 client for contract v1, used by tools and tests: RPC calls with a response topic and
/// correlation data over one standing reply subscription, streamed replies, and topic observation.
/// Thread-safe; dispose it to disconnect.
/// </summary>
public sealed class ApplianceClient : IAsyncDisposable
{
    private readonly IMqttClient _mqtt;
    private readonly ApplianceClientOptions _options;
    private readonly string _repliesTopic;
    private readonly ConcurrentDictionary<string, Channel<RpcReply>> _pending = new();
    private readonly ConcurrentDictionary<Guid, (string Filter, Channel<ObservedMessage> Channel)> _observers = new();

    private ApplianceClient(IMqttClient mqtt, ApplianceClientOptions options, string clientId)
    {
        _mqtt = mqtt;
        _options = options;
        ClientId = clientId;
        _repliesTopic = Topics.Replies(options.DeviceId, clientId);
        _mqtt.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    public string ClientId { get; }

    public bool IsConnected => _mqtt.IsConnected;

    /// <summary>
    /// Connects with MQTT 5 and subscribes to this client's reply topic.
    /// Throws <see cref="MQTTnet.Exceptions.MqttCommunicationException"/> when the broker cannot be reached and
    /// <see cref="ApplianceClientException"/> when the broker refuses the connection or the reply subscription.
    /// </summary>
    public static async Task<ApplianceClient> ConnectAsync(ApplianceClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clientId = options.ClientId ?? $"client-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(clientId)
            .WithCleanStart(true)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (options.Username is not null)
        {
            builder.WithCredentials(options.Username, options.Password ?? "");
        }

        if (options.UseTls)
        {
            builder.WithTlsOptions(tls => tls.UseTls(true)
                .WithAllowUntrustedCertificates(options.AllowUntrustedServerCertificate)
                .WithIgnoreCertificateChainErrors(options.AllowUntrustedServerCertificate)
                .WithCertificateValidationHandler(args => options.AllowUntrustedServerCertificate || args.SslPolicyErrors == System.Net.Security.SslPolicyErrors.None));
        }

        var mqtt = new MqttClientFactory().CreateMqttClient();
        var client = new ApplianceClient(mqtt, options, clientId);
        try
        {
            var result = await mqtt.ConnectAsync(builder.Build(), cancellationToken).ConfigureAwait(false);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw new ApplianceClientException($"The broker refused the connection: {result.ResultCode} {result.ReasonString}");
            }

            await client.SubscribeCheckedAsync(client._repliesTopic, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            mqtt.Dispose();
            throw;
        }
    }

    /// <summary>Calls <paramref name="method"/> and returns its final reply (a result or an error). Throws <see cref="TimeoutException"/> when no final reply arrives in time.</summary>
    public async Task<RpcReply> CallAsync(string method, object? parameters = null, RpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        RpcReply? last = null;
        await foreach (var reply in StreamAsync(method, parameters, options, cancellationToken).ConfigureAwait(false))
        {
            last = reply;
        }

        return last!;
    }

    /// <summary>Calls <paramref name="method"/> and yields every reply in sequence order, ending with the final one.</summary>
    public IAsyncEnumerable<RpcReply> StreamAsync(string method, object? parameters = null, RpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(parameters ?? new { }, ContractJson.Options);
        return StreamRawAsync(method, payload, options, cancellationToken);
    }

    /// <summary>Sends <paramref name="payload"/> as is (for tools that already hold JSON, and for tests of bad input).</summary>
    public async IAsyncEnumerable<RpcReply> StreamRawAsync(string method, ReadOnlyMemory<byte> payload, RpcCallOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var correlation = RandomNumberGenerator.GetBytes(16);
        var key = Convert.ToHexString(correlation);
        var replies = Channel.CreateUnbounded<RpcReply>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        _pending[key] = replies;
        try
        {
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(Topics.Rpc(_options.DeviceId, method))
                .WithPayload(payload.ToArray())
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithResponseTopic(_repliesTopic)
                .WithCorrelationData(correlation)
                .WithContentType("application/json");
            if (options?.IdempotencyKey is { } idempotencyKey)
            {
                message.WithUserProperty(UserPropertyNames.IdempotencyKey, System.Text.Encoding.UTF8.GetBytes(idempotencyKey).AsMemory());
            }

            var published = await _mqtt.PublishAsync(message.Build(), cancellationToken).ConfigureAwait(false);
            if (!published.IsSuccess)
            {
                throw new ApplianceClientException($"The broker refused the request on {method}: {published.ReasonCode} {published.ReasonString}");
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options?.Timeout ?? _options.DefaultTimeout);
            while (true)
            {
                RpcReply reply;
                try
                {
                    reply = await replies.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"No final reply to {method} from device {_options.DeviceId} within {options?.Timeout ?? _options.DefaultTimeout}.");
                }

                yield return reply;
                if (reply.Final)
                {
                    yield break;
                }
            }
        }
        finally
        {
            _pending.TryRemove(key, out _);
        }
    }

    /// <summary>
    /// Yields every message on topics matching <paramref name="topicFilter"/> (retained ones first) until
    /// cancelled. The subscription is made before this method returns the first element.
    /// </summary>
    public async IAsyncEnumerable<ObservedMessage> ObserveAsync(string topicFilter, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var id = Guid.NewGuid();
        var channel = Channel.CreateUnbounded<ObservedMessage>();
        _observers[id] = (topicFilter, channel);
        try
        {
            await SubscribeCheckedAsync(topicFilter, cancellationToken).ConfigureAwait(false);
            while (true)
            {
                ObservedMessage message;
                try
                {
                    message = await channel.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }

                yield return message;
            }
        }
        finally
        {
            _observers.TryRemove(id, out _);
        }
    }

    /// <summary>Waits for the device's retained status document.</summary>
    public async Task<StatusDocument> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        await foreach (var message in ObserveAsync(Topics.Status(_options.DeviceId), cancellationToken).ConfigureAwait(false))
        {
            var status = message.Deserialize<StatusDocument>();
            if (status is not null)
            {
                return status;
            }
        }

        throw new OperationCanceledException(cancellationToken);
    }

    /// <summary>Publishes a raw message (for tools and tests that speak to feature channels directly).</summary>
    public async Task<MqttClientPublishResult> PublishAsync(MqttApplicationMessage message, CancellationToken cancellationToken = default) =>
        await _mqtt.PublishAsync(message, cancellationToken).ConfigureAwait(false);

    /// <summary>Subscribes and returns the broker's verdict for the filter (granted QoS or a refusal reason).</summary>
    public async Task<MqttClientSubscribeResultCode> TrySubscribeAsync(string topicFilter, CancellationToken cancellationToken = default)
    {
        var result = await _mqtt.SubscribeAsync(
            new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topicFilter, MqttQualityOfServiceLevel.AtLeastOnce).Build(),
            cancellationToken).ConfigureAwait(false);
        return result.Items.First().ResultCode;
    }

    public async ValueTask DisposeAsync()
    {
        _mqtt.ApplicationMessageReceivedAsync -= OnMessageAsync;
        if (_mqtt.IsConnected)
        {
            try
            {
                await _mqtt.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                // The connection was already going away; nothing left to close politely.
            }
        }

        _mqtt.Dispose();
    }

    private async Task SubscribeCheckedAsync(string topicFilter, CancellationToken cancellationToken)
    {
        var code = await TrySubscribeAsync(topicFilter, cancellationToken).ConfigureAwait(false);
        if (code is not (MqttClientSubscribeResultCode.GrantedQoS0 or MqttClientSubscribeResultCode.GrantedQoS1 or MqttClientSubscribeResultCode.GrantedQoS2))
        {
            throw new ApplianceClientException($"The broker refused the subscription to {topicFilter}: {code}");
        }
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        var message = args.ApplicationMessage;
        if (message.Topic == _repliesTopic)
        {
            if (message.CorrelationData is { Length: > 0 } correlation
                && _pending.TryGetValue(Convert.ToHexString(correlation), out var replies)
                && TryParseReply(message.Payload, out var reply))
            {
                replies.Writer.TryWrite(reply);
            }

            return Task.CompletedTask;
        }

        byte[]? copy = null;
        foreach (var (filter, channel) in _observers.Values)
        {
            if (MqttTopicFilterComparer.Compare(message.Topic, filter) == MqttTopicFilterCompareResult.IsMatch)
            {
                copy ??= message.Payload.ToArray();
                channel.Writer.TryWrite(new ObservedMessage(message.Topic, copy, message.Retain));
            }
        }

        return Task.CompletedTask;
    }

    private static bool TryParseReply(ReadOnlySequence<byte> payload, out RpcReply reply)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            reply = JsonSerializer.Deserialize<RpcReply>(ref reader, ContractJson.Options)!;
            return reply is not null;
        }
        catch (JsonException)
        {
            reply = null!;
            return false;
        }
    }
}

/// <summary>The broker or the daemon refused what the client asked for.</summary>
public sealed class ApplianceClientException(string message) : Exception(message);
