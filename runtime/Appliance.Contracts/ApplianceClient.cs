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
    /// <summary>The broker's host name or address.</summary>
    public required string Host { get; init; }

    /// <summary>The broker's port.</summary>
    public int Port { get; init; } = 1883;

    /// <summary>
    /// The device whose daemon is called (see <see cref="Identifiers.IsValidDeviceId"/>); may be left out by a client that
    /// only calls a fleet (<see cref="FleetGroup"/>) or only observes and publishes topics.
    /// </summary>
    public string? DeviceId { get; init; }

    /// <summary>The broker account, when it asks for one.</summary>
    public string? Username { get; init; }

    /// <summary>The broker account's password.</summary>
    public string? Password { get; init; }

    /// <summary>Connect with TLS.</summary>
    public bool UseTls { get; init; }

    /// <summary>Accept a self-signed or otherwise untrusted broker certificate (development boards only).</summary>
    public bool AllowUntrustedServerCertificate { get; init; }

    /// <summary>MQTT client id, also the last level of this client's reply topic, so it follows the device-id rule (<see cref="Identifiers.IsValidDeviceId"/>); a random one when not set.</summary>
    public string? ClientId { get; init; }

    /// <summary>
    /// The fleet group whose hubs this client may also call through the fleet topic (<see cref="ApplianceClient.StartMeetingInFleetAsync"/>),
    /// or null. Same rule as a device id.
    /// </summary>
    public string? FleetGroup { get; init; }

    /// <summary>How long a call waits for its final reply unless the call says otherwise.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Per-call settings.</summary>
public sealed record RpcCallOptions
{
    /// <summary>Set for commands: a redelivered request with the same key is not acted on twice.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>How long to wait for the final reply; <see cref="ApplianceClientOptions.DefaultTimeout"/> when null.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>A method's final answer, typed: the result, or the structured error.</summary>
/// <typeparam name="T">The method's result type.</typeparam>
/// <param name="Value">The result; default when <paramref name="Error"/> is set.</param>
/// <param name="Error">Why the call failed; null on success.</param>
public readonly record struct RpcResult<T>(T? Value, RpcError? Error)
{
    /// <summary>True when the call returned a result.</summary>
    public bool Succeeded => Error is null;
}

/// <summary>A message seen on a topic the client observes. The payload is a copy owned by the receiver.</summary>
/// <param name="Topic">The topic it was published on.</param>
/// <param name="Payload">The payload bytes.</param>
/// <param name="Retain">True when the broker replayed a retained message.</param>
/// <param name="UserProperties">The MQTT 5 user properties, as UTF-8 text by name (the first of a name repeated, as <see cref="UserProperties.Read"/> reads them); empty when none.</param>
public sealed record ObservedMessage(string Topic, byte[] Payload, bool Retain, IReadOnlyDictionary<string, string> UserProperties)
{
    /// <summary>Reads the payload as a contract type.</summary>
    /// <typeparam name="T">A type declared on <see cref="ContractJsonContext"/>.</typeparam>
    /// <returns>The value; null for an empty payload or the JSON literal null.</returns>
    /// <exception cref="JsonException">The payload is not JSON of <typeparamref name="T"/>.</exception>
    public T? Deserialize<T>() => Payload.Length == 0 ? default : ContractJson.Deserialize<T>(Payload);
}

/// <summary>
/// A small MQTT 5 client for contract v1, used by tools and tests: typed RPC calls with a response topic and
/// correlation data over one standing reply subscription, streamed replies, meeting commands, and topic subscriptions.
/// Thread-safe; dispose it to disconnect.
/// </summary>
public sealed class ApplianceClient : IAsyncDisposable
{
    private readonly IMqttClient _mqtt;
    private readonly ApplianceClientOptions _options;
    private readonly string? _repliesTopic;
    private readonly string? _fleetRepliesTopic;
    private readonly ConcurrentDictionary<string, Channel<RpcReply>> _pending = new();
    private readonly ConcurrentDictionary<Guid, TopicSubscription> _subscriptions = new();

    private ApplianceClient(IMqttClient mqtt, ApplianceClientOptions options, string clientId)
    {
        _mqtt = mqtt;
        _options = options;
        ClientId = clientId;
        _repliesTopic = options.DeviceId is { } deviceId ? Topics.Replies(deviceId, clientId) : null;
        _fleetRepliesTopic = options.FleetGroup is { } group ? Topics.FleetReplies(group, clientId) : null;
        _mqtt.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    /// <summary>The MQTT client id in use.</summary>
    public string ClientId { get; }

    /// <summary>The device this client calls.</summary>
    /// <exception cref="InvalidOperationException">The client was connected without <see cref="ApplianceClientOptions.DeviceId"/>.</exception>
    public string DeviceId => _options.DeviceId ?? throw new InvalidOperationException("This client was connected without ApplianceClientOptions.DeviceId, so it calls no device's own topics.");

    /// <summary>Whether the connection to the broker is up.</summary>
    public bool IsConnected => _mqtt.IsConnected;

    /// <summary>Connects with MQTT 5 and subscribes to this client's reply topic.</summary>
    /// <param name="options">Where and who to connect as.</param>
    /// <param name="cancellationToken">Cancels the connection attempt.</param>
    /// <returns>The connected client; the caller owns it.</returns>
    /// <exception cref="MQTTnet.Exceptions.MqttCommunicationException">The broker cannot be reached.</exception>
    /// <exception cref="ApplianceClientException">The broker refused the connection or the reply subscription.</exception>
    /// <exception cref="ArgumentException">The device id or the client id is not a valid id (a topic level).</exception>
    public static async Task<ApplianceClient> ConnectAsync(ApplianceClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clientId = options.ClientId ?? $"client-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        if (options.DeviceId is { } deviceId)
        {
            ThrowIfInvalid(deviceId, Identifiers.IsValidDeviceId(deviceId), "device id", Identifiers.DeviceIdDescription, nameof(options));
        }

        ThrowIfInvalid(clientId, Identifiers.IsValidDeviceId(clientId), "client id", Identifiers.DeviceIdDescription, nameof(options));
        if (options.FleetGroup is { } fleetGroup)
        {
            ThrowIfInvalid(fleetGroup, Identifiers.IsValidDeviceId(fleetGroup), "fleet group", Identifiers.DeviceIdDescription, nameof(options));
        }
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

            if (client._repliesTopic is { } replies)
            {
                await client.SubscribeCheckedAsync(replies, cancellationToken).ConfigureAwait(false);
            }

            if (client._fleetRepliesTopic is { } fleetReplies)
            {
                await client.SubscribeCheckedAsync(fleetReplies, cancellationToken).ConfigureAwait(false);
            }

            return client;
        }
        catch
        {
            mqtt.Dispose();
            throw;
        }
    }

    /// <summary>Calls a method that takes no parameters (<c>{}</c> is sent) and returns its final reply.</summary>
    /// <param name="method">The method name.</param>
    /// <param name="options">Idempotency key and timeout.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The final reply: a result or an error.</returns>
    /// <exception cref="TimeoutException">No final reply arrived in time.</exception>
    public Task<RpcReply> CallAsync(string method, RpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        LastAsync(StreamRawAsync(method, "{}"u8.ToArray(), options, cancellationToken));

    /// <summary>Calls <paramref name="method"/> and returns its final reply.</summary>
    /// <typeparam name="TParams">The method's parameters.</typeparam>
    /// <typeparam name="TResult">The method's result.</typeparam>
    /// <param name="method">The method, from <see cref="RpcMethods"/>.</param>
    /// <param name="parameters">The parameters.</param>
    /// <param name="options">Idempotency key and timeout.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The final reply: a result (read it with <see cref="RpcMethod{TParams, TResult}.ReadResult"/>) or an error.</returns>
    /// <exception cref="TimeoutException">No final reply arrived in time.</exception>
    public Task<RpcReply> CallAsync<TParams, TResult>(RpcMethod<TParams, TResult> method, TParams parameters, RpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        LastAsync(StreamAsync(method, parameters, options, cancellationToken));

    /// <summary>Calls <paramref name="method"/> and returns its typed result or error.</summary>
    /// <typeparam name="TParams">The method's parameters.</typeparam>
    /// <typeparam name="TResult">The method's result.</typeparam>
    /// <param name="method">The method, from <see cref="RpcMethods"/>.</param>
    /// <param name="parameters">The parameters.</param>
    /// <param name="options">Idempotency key and timeout.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The result, or the daemon's structured error.</returns>
    /// <exception cref="TimeoutException">No final reply arrived in time.</exception>
    /// <exception cref="JsonException">The result does not fit <typeparamref name="TResult"/>.</exception>
    public async Task<RpcResult<TResult>> InvokeAsync<TParams, TResult>(RpcMethod<TParams, TResult> method, TParams parameters, RpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        return method.ToResult(await CallAsync(method, parameters, options, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Calls <paramref name="method"/> and yields every reply in sequence order, ending with the final one.</summary>
    /// <typeparam name="TParams">The method's parameters.</typeparam>
    /// <typeparam name="TResult">The method's result.</typeparam>
    /// <param name="method">The method, from <see cref="RpcMethods"/>.</param>
    /// <param name="parameters">The parameters.</param>
    /// <param name="options">Idempotency key and timeout.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The replies; the last one is final.</returns>
    /// <exception cref="TimeoutException">No final reply arrived in time.</exception>
    public IAsyncEnumerable<RpcReply> StreamAsync<TParams, TResult>(RpcMethod<TParams, TResult> method, TParams parameters, RpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        return RequestAsync(Topics.Rpc(DeviceId, method.Name), method.Name, JsonSerializer.SerializeToUtf8Bytes(parameters, method.ParamsInfo), options, cancellationToken);
    }

    /// <summary>Sends <paramref name="payload"/> as is to a method (for tools that already hold JSON, and for tests of bad input).</summary>
    /// <param name="method">The method name.</param>
    /// <param name="payload">The request payload.</param>
    /// <param name="options">Idempotency key and timeout.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The replies; the last one is final.</returns>
    /// <exception cref="TimeoutException">No final reply arrived in time.</exception>
    /// <exception cref="ArgumentException"><paramref name="method"/> is not one topic level (empty, or with <c>/</c>, <c>+</c> or <c>#</c>).</exception>
    public IAsyncEnumerable<RpcReply> StreamRawAsync(string method, ReadOnlyMemory<byte> payload, RpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ThrowIfInvalidMethod(method);
        return RequestAsync(Topics.Rpc(DeviceId, method), method, payload, options, cancellationToken);
    }

    /// <summary>Sends a command on a meeting's control topic, as earbuds do, and returns its one reply.</summary>
    /// <param name="sessionId">The meeting.</param>
    /// <param name="command">start, stop or abort with their fields.</param>
    /// <param name="options">Idempotency key and timeout.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The reply: a <see cref="MeetingControlResult"/> or an error.</returns>
    /// <exception cref="TimeoutException">No reply arrived in time.</exception>
    /// <exception cref="ArgumentException"><paramref name="sessionId"/> is not a valid session id.</exception>
    public Task<RpcReply> ControlMeetingAsync(string sessionId, MeetingControl command, RpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ThrowIfInvalid(sessionId, Identifiers.IsValidSessionId(sessionId), "session id", Identifiers.SessionIdDescription, nameof(sessionId));
        return LastAsync(RequestAsync(Topics.MeetingControl(DeviceId, sessionId), $"meeting control '{command?.Action}' of {sessionId}", Channels.MeetingControl.Serialize(command!), options, cancellationToken));
    }

    /// <summary>
    /// Calls a method that keeps no state (<c>llm.chat</c>, <c>asr.transcribe</c>) on whichever hub of
    /// <see cref="ApplianceClientOptions.FleetGroup"/> takes it, and returns its final reply (<see cref="RpcReply.ServedBy"/>
    /// names the hub). When no final reply comes within the timeout (the hub was lost, say), or the hub that took it
    /// answers <c>busy</c> (its request queue is full), the request is sent again with the same idempotency key, up to
    /// <paramref name="attempts"/> times in all: a rotating broker gives it to another hub, and a retry that reaches the
    /// same hub after its first run ended is answered from that run, not run twice (one that arrives while the first run
    /// still works is dropped, so give a timeout longer than a run). The last <c>busy</c> is returned when every attempt got one.
    /// </summary>
    /// <param name="method">The method name.</param>
    /// <param name="parameters">The request payload (a JSON object).</param>
    /// <param name="attempts">How many times to send it at most.</param>
    /// <param name="options">Timeout of each attempt, and the idempotency key (a new one when not given).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The final reply.</returns>
    /// <exception cref="InvalidOperationException">The client was connected without a fleet group.</exception>
    /// <exception cref="TimeoutException">No attempt got a final reply in time.</exception>
    public async Task<RpcReply> CallInFleetAsync(string method, ReadOnlyMemory<byte> parameters, int attempts = 3, RpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        ThrowIfInvalidMethod(method);
        var (group, replies) = FleetTopics();

        var keyed = (options ?? new RpcCallOptions()) with { IdempotencyKey = options?.IdempotencyKey ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)) };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var reply = await LastAsync(RequestAsync(Topics.FleetRpc(group, method), replies, $"{method} in fleet {group}", parameters, keyed, cancellationToken)).ConfigureAwait(false);
                if (reply.Error?.Code != RpcErrorCodes.Busy || attempt == attempts)
                {
                    return reply;
                }

                // A full hub: the next one in the broker's turn may take it now.
            }
            catch (TimeoutException) when (attempt < attempts)
            {
                // Sent again with the same key: another hub takes it, or the same one answers from its first run.
            }
        }
    }

    /// <summary>
    /// Starts a meeting on whichever hub of <see cref="ApplianceClientOptions.FleetGroup"/> takes it: the start goes to
    /// the fleet topic, where one hub takes it through the broker's shared subscription. A hub that is full answers
    /// <c>busy</c>, and the start is sent again, up to <paramref name="attempts"/> times: a broker that rotates (Mosquitto,
    /// EMQX round_robin) gives it to the next hub each time, so ask at least as many times as the group has hubs; a broker
    /// that picks at random or by client may ask a full hub again. Stream the audio, and send stop or abort, to the hub
    /// returned (its own topics).
    /// </summary>
    /// <param name="parameters">The meeting's start parameters.</param>
    /// <param name="attempts">How many hubs to ask at most; at least the group's size, so that every hub is asked.</param>
    /// <param name="options">Timeout of each attempt.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The hub that took the meeting (null when none did) and the last reply: the start's result, or the last refusal.</returns>
    /// <exception cref="InvalidOperationException">The client was connected without a fleet group.</exception>
    /// <exception cref="TimeoutException">A hub took the start but sent no reply in time.</exception>
    public async Task<(string? DeviceId, RpcResult<MeetingControlResult> Result)> StartMeetingInFleetAsync(MeetingStartParams parameters, int attempts = 8, RpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        var (group, replies) = FleetTopics();

        var payload = JsonSerializer.SerializeToUtf8Bytes(parameters, RpcMethods.MeetingsStart.ParamsInfo);
        RpcReply reply = null!;
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            reply = await LastAsync(RequestAsync(Topics.FleetRpc(group, RpcMethods.MeetingsStart.Name), replies, $"meetings.start in fleet {group}", payload, options, cancellationToken)).ConfigureAwait(false);
            if (reply.Error?.Code != RpcErrorCodes.Busy)
            {
                break;
            }
        }

        var result = RpcMethods.MeetingsStart.ToResult(reply);
        return (result.Error is null ? reply.ServedBy : null, result);
    }

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="method"/> is not one topic level.</summary>
    private static void ThrowIfInvalidMethod(string method) =>
        ThrowIfInvalid(method, !string.IsNullOrEmpty(method) && method.IndexOfAny(['/', '+', '#']) < 0, "method name", "one topic level without '/', '+' or '#'", nameof(method));

    /// <summary>The fleet group and this client's replies topic in it.</summary>
    /// <exception cref="InvalidOperationException">The client was connected without a fleet group.</exception>
    private (string Group, string Replies) FleetTopics() =>
        _options.FleetGroup is { } group && _fleetRepliesTopic is { } replies
            ? (group, replies)
            : throw new InvalidOperationException("This client was connected without ApplianceClientOptions.FleetGroup.");

    /// <summary>Throws <see cref="ArgumentException"/> naming the value and the rule when <paramref name="valid"/> is false.</summary>
    internal static void ThrowIfInvalid(string? value, bool valid, string what, string rule, string parameter)
    {
        if (!valid)
        {
            throw new ArgumentException($"'{value}' is not a valid {what}: use {rule}.", parameter);
        }
    }

    /// <summary>
    /// Subscribes to <paramref name="topicFilter"/>; the subscription is live at the broker when this returns, so nothing
    /// published afterwards is missed (a retained message comes first). Dispose the result to stop.
    /// </summary>
    /// <param name="topicFilter">An MQTT topic filter.</param>
    /// <param name="cancellationToken">Cancels the subscribe.</param>
    /// <returns>The subscription; the caller owns it.</returns>
    /// <exception cref="ApplianceClientException">The broker refused the subscription.</exception>
    public async Task<TopicSubscription> SubscribeAsync(string topicFilter, CancellationToken cancellationToken = default)
    {
        var subscription = new TopicSubscription(topicFilter, s => _subscriptions.TryRemove(s.Id, out _));
        _subscriptions[subscription.Id] = subscription;
        try
        {
            await SubscribeCheckedAsync(topicFilter, cancellationToken).ConfigureAwait(false);
            return subscription;
        }
        catch
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Yields every message on topics matching <paramref name="topicFilter"/> (retained ones first) until cancelled.</summary>
    /// <param name="topicFilter">An MQTT topic filter.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The messages, as they arrive.</returns>
    /// <exception cref="ApplianceClientException">The broker refused the subscription.</exception>
    public async IAsyncEnumerable<ObservedMessage> ObserveAsync(string topicFilter, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var subscription = await SubscribeAsync(topicFilter, cancellationToken).ConfigureAwait(false);
        await foreach (var message in subscription.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return message;
        }
    }

    /// <summary>Waits for the device's retained status document.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The status.</returns>
    /// <exception cref="OperationCanceledException">Cancelled before a status arrived.</exception>
    public async Task<StatusDocument> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        await foreach (var message in ObserveAsync(Topics.Status(DeviceId), cancellationToken).ConfigureAwait(false))
        {
            if (message.Deserialize<StatusDocument>() is { } status)
            {
                return status;
            }
        }

        throw new OperationCanceledException(cancellationToken);
    }

    /// <summary>Publishes a message as it is (audio frames, and tests that speak to feature channels directly).</summary>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <returns>The broker's answer.</returns>
    public async Task<MqttClientPublishResult> PublishAsync(MqttApplicationMessage message, CancellationToken cancellationToken = default) =>
        await _mqtt.PublishAsync(message, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Tells the device whether the appliance carried out an intent it took from <c>voice/intents</c> (publishes
    /// <paramref name="handled"/> on <c>voice/handled</c>, QoS 1, not retained), for profiles whose
    /// <c>commands.handled</c> makes the spoken reply wait for it.
    /// </summary>
    /// <param name="handled">The utterance id of the intent, whether it worked, and optionally the reply to say.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <returns>The broker's answer.</returns>
    public Task<MqttClientPublishResult> ReportHandledAsync(VoiceHandled handled, CancellationToken cancellationToken = default) =>
        PublishAsync(
            new MqttApplicationMessageBuilder()
                .WithTopic(Topics.VoiceHandled(DeviceId))
                .WithPayload(Channels.VoiceHandled.Serialize(handled))
                .WithQualityOfServiceLevel(Channels.VoiceHandled.Qos)
                .Build(),
            cancellationToken);

    /// <summary>Subscribes without reading (the messages go to matching <see cref="SubscribeAsync"/> subscriptions) and returns the broker's verdict.</summary>
    /// <param name="topicFilter">An MQTT topic filter.</param>
    /// <param name="cancellationToken">Cancels the subscribe.</param>
    /// <returns>The granted QoS or the refusal reason.</returns>
    public async Task<MqttClientSubscribeResultCode> TrySubscribeAsync(string topicFilter, CancellationToken cancellationToken = default)
    {
        var result = await _mqtt.SubscribeAsync(
            new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topicFilter, MqttQualityOfServiceLevel.AtLeastOnce).Build(),
            cancellationToken).ConfigureAwait(false);
        return result.Items.First().ResultCode;
    }

    /// <summary>Disconnects and releases the connection.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
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

    private static async Task<RpcReply> LastAsync(IAsyncEnumerable<RpcReply> replies)
    {
        RpcReply? last = null;
        await foreach (var reply in replies.ConfigureAwait(false))
        {
            last = reply;
        }

        return last!;
    }

    /// <summary>A request to the device's own topic (<paramref name="topic"/> was made with <see cref="DeviceId"/>, which throws without one).</summary>
    private IAsyncEnumerable<RpcReply> RequestAsync(string topic, string what, ReadOnlyMemory<byte> payload, RpcCallOptions? options, CancellationToken cancellationToken) =>
        RequestAsync(topic, _repliesTopic!, what, payload, options, cancellationToken);

    private async IAsyncEnumerable<RpcReply> RequestAsync(string topic, string responseTopic, string what, ReadOnlyMemory<byte> payload, RpcCallOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var correlation = RandomNumberGenerator.GetBytes(16);
        var key = Convert.ToHexString(correlation);
        var replies = Channel.CreateUnbounded<RpcReply>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        _pending[key] = replies;
        try
        {
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(payload.ToArray())
                .WithQualityOfServiceLevel(Channels.RpcRequest.Qos)
                .WithResponseTopic(responseTopic)
                .WithCorrelationData(correlation)
                .WithContentType("application/json");
            if (options?.IdempotencyKey is { } idempotencyKey)
            {
                message.WithUserProperty(UserProperties.IdempotencyKey, System.Text.Encoding.UTF8.GetBytes(idempotencyKey).AsMemory());
            }

            var published = await _mqtt.PublishAsync(message.Build(), cancellationToken).ConfigureAwait(false);
            if (!published.IsSuccess)
            {
                throw new ApplianceClientException($"The broker refused the request {what}: {published.ReasonCode} {published.ReasonString}");
            }

            var limit = options?.Timeout ?? _options.DefaultTimeout;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(limit);
            while (true)
            {
                RpcReply reply;
                try
                {
                    reply = await replies.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"No final reply to {what} on {topic} within {limit}.");
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
        if (message.Topic == _repliesTopic || message.Topic == _fleetRepliesTopic)
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
        IReadOnlyDictionary<string, string>? properties = null;
        foreach (var subscription in _subscriptions.Values)
        {
            if (MqttTopicFilterComparer.Compare(message.Topic, subscription.Filter) == MqttTopicFilterCompareResult.IsMatch)
            {
                copy ??= message.Payload.ToArray();
                properties ??= (message.UserProperties ?? []).Select(p => p.Name).Distinct(StringComparer.Ordinal).ToDictionary(name => name, name => UserProperties.Read(message.UserProperties, name)!, StringComparer.Ordinal);
                subscription.Deliver(new ObservedMessage(message.Topic, copy, message.Retain, properties));
            }
        }

        return Task.CompletedTask;
    }

    private static bool TryParseReply(ReadOnlySequence<byte> payload, out RpcReply reply)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            reply = JsonSerializer.Deserialize(ref reader, ContractJsonContext.Default.RpcReply)!;
            return reply is not null;
        }
        catch (JsonException)
        {
            reply = null!;
            return false;
        }
    }
}

/// <summary>
/// Messages of one topic filter of an <see cref="ApplianceClient"/>, from the moment the broker confirmed the
/// subscription. One reader at a time; dispose to stop receiving (the broker-side subscription stays until the client
/// disconnects).
/// </summary>
public sealed class TopicSubscription : IAsyncDisposable
{
    private readonly Channel<ObservedMessage> _messages = Channel.CreateUnbounded<ObservedMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Action<TopicSubscription> _detach;

    internal TopicSubscription(string filter, Action<TopicSubscription> detach)
    {
        Filter = filter;
        _detach = detach;
    }

    /// <summary>The topic filter.</summary>
    public string Filter { get; }

    internal Guid Id { get; } = Guid.NewGuid();

    /// <summary>Yields each message as it arrives, until cancelled or disposed.</summary>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The messages.</returns>
    public async IAsyncEnumerable<ObservedMessage> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            try
            {
                if (!await _messages.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    yield break;
                }
            }
            catch (OperationCanceledException)
            {
                yield break;
            }

            while (_messages.Reader.TryRead(out var message))
            {
                yield return message;
            }
        }
    }

    /// <summary>The next message, waiting for it (for a reader that waits a bounded time; else use <see cref="ReadAllAsync"/>).</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The message.</returns>
    /// <exception cref="OperationCanceledException">Cancelled before a message came.</exception>
    /// <exception cref="System.Threading.Channels.ChannelClosedException">The subscription was disposed and every message read.</exception>
    public ValueTask<ObservedMessage> ReadAsync(CancellationToken cancellationToken = default) => _messages.Reader.ReadAsync(cancellationToken);

    /// <summary>Takes the next message already delivered, without waiting.</summary>
    /// <param name="message">The message; null when none is waiting.</param>
    /// <returns>Whether a message was waiting.</returns>
    public bool TryRead([System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out ObservedMessage message) => _messages.Reader.TryRead(out message);

    /// <summary>Stops receiving; a reader's enumeration ends after the messages already delivered.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        _detach(this);
        _messages.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    internal void Deliver(ObservedMessage message) => _messages.Writer.TryWrite(message);
}

/// <summary>The broker or the daemon refused what the client asked for.</summary>
/// <param name="message">What was refused and why.</param>
public sealed class ApplianceClientException(string message) : Exception(message);
