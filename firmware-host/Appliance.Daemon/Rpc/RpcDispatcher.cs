using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;

namespace Appliance.Daemon.Rpc;

/// <summary>
/// Serves every request of the device: <c>rpc/{method}</c>, and the meeting control topics, whose commands are the
/// methods <c>meetings.{action}</c> with the session id from the topic. It checks size and JSON, de-duplicates by
/// idempotency key, queues the request (bounded; a full queue answers "busy" rather than blocking the MQTT receive path),
/// runs the method on one of a fixed number of workers and publishes every reply to the request's response topic with its
/// correlation data, sequence number and final marker: the one reply path of the daemon. Commands for one meeting
/// (control topic, or a method with <see cref="IRpcMethod.InSessionOrder"/>) run one after the other in the order they
/// arrived, since earbuds may send start and stop back to back without waiting: a command that finds its meeting's lane
/// busy waits in the lane, off the workers, and the worker that finishes the one before it serves it next. Other
/// requests run side by side. On shutdown it takes no new requests and cancels the ones running (they answer
/// <c>cancelled</c>).
/// </summary>
internal sealed class RpcDispatcher : BackgroundService
{
    private readonly MqttConnection _mqtt;
    private readonly DeviceContext _device;
    private readonly RpcOptions _options;
    private readonly DeviceMetrics _metrics;
    private readonly ILogger<RpcDispatcher> _logger;
    private readonly Dictionary<string, IRpcMethod> _methods;
    private readonly IdempotencyCache _idempotency;
    private readonly Channel<Request> _queue;
    private readonly CancellationTokenSource _replies = new();
    /// <summary>Room for an envelope's own fields (reply topic, correlation id, key) on top of a method's payload limit, in bytes.</summary>
    private const int EnvelopeAllowanceBytes = 4096;

    private readonly Dictionary<string, Queue<Request>> _lanes = new(StringComparer.Ordinal);
    private int _waitingInLanes;
    private int _running;

    public RpcDispatcher(MqttConnection mqtt, DeviceContext device, DeviceMetrics metrics, IEnumerable<IRpcMethod> methods, IOptions<RpcOptions> options, TimeProvider time, ILogger<RpcDispatcher> logger)
    {
        _mqtt = mqtt;
        _device = device;
        _metrics = metrics;
        _options = options.Value;
        _logger = logger;
        _methods = methods.ToDictionary(m => m.Name, StringComparer.Ordinal);
        _idempotency = new IdempotencyCache(TimeSpan.FromSeconds(_options.IdempotencyWindowSeconds), _options.IdempotencyCapacity, time);
        _queue = Channel.CreateBounded<Request>(new BoundedChannelOptions(_options.QueueCapacity) { FullMode = BoundedChannelFullMode.Wait });
        metrics.ObserveRpc(() => Volatile.Read(ref _running), () => _queue.Reader.Count + Volatile.Read(ref _waitingInLanes));
        mqtt.Subscribe(new MqttSubscription(Topics.RpcFilter(device.DeviceId), Channels.RpcRequest.Qos, OnRpcAsync, RetainAsPublished: true));
        mqtt.Subscribe(new MqttSubscription(Topics.RpcEnvelopeFilter(device.DeviceId), Channels.RpcEnvelopeRequest.Qos, OnRpcEnvelopeAsync, RetainAsPublished: true));
        mqtt.Subscribe(new MqttSubscription(Topics.MeetingFilter(device.DeviceId, MeetingTopic.Control), Channels.MeetingControl.Qos, OnMeetingControlAsync, RetainAsPublished: true));
        if (device.FleetGroup is { } group)
        {
            mqtt.Subscribe(new MqttSubscription(Topics.FleetRpcSharedFilter(group), Channels.FleetRpcRequest.Qos, OnFleetRpcAsync, RetainAsPublished: true));
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Take no new work; running requests are cancelled and answer so. Replies go out until the host stops waiting.
        _queue.Writer.TryComplete();
        using var giveUp = cancellationToken.Register(_replies.Cancel);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _replies.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _options.MaxConcurrent).Select(_ => WorkAsync(stoppingToken)));

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        await foreach (var request in _queue.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            // A meeting command is followed, on this worker, by the commands that queued behind it in its lane.
            for (var next = request; next is not null; next = NextInLane(next))
            {
                Interlocked.Increment(ref _running);
                try
                {
                    await ServeAsync(next, stoppingToken).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // A bug in serving one request must not cost the daemon a worker.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    RpcLog.MethodFailed(_logger, next.Name, ex);
                }
                finally
                {
                    Interlocked.Decrement(ref _running);
                }
            }
        }
    }

    /// <summary>
    /// A request to any hub of the fleet group, taken by this one through the shared subscription. Only the methods
    /// marked <see cref="IRpcMethod.FleetServed"/> are served there (others answer <c>method_not_found</c>, naming the
    /// device topic); every reply says which device served it; the response topic must be under the group's replies.
    /// </summary>
    private Task OnFleetRpcAsync(MqttApplicationMessage message)
    {
        if (_device.FleetGroup is not { } group || !Topics.TryGetFleetRpcMethod(message.Topic, group, out var method))
        {
            return Task.CompletedTask;
        }

        // A retained request is never executed, only answered retained_request and cleared (the empty retained message
        // of a clear, this hub's or another's, comes back here and is left alone).
        var problem = string.IsNullOrEmpty(message.ResponseTopic) ? null : ReplyTopicProblem(message.ResponseTopic, Topics.FleetReplies(group, ""));
        var request = new Request(method, null, problem is null ? message.ResponseTopic : null, message.CorrelationData, IdempotencyKey(message)) { ServedBy = _device.DeviceId };
        if (message.Retain)
        {
            return RefuseRetainedAsync(message, request);
        }

        if (string.IsNullOrEmpty(message.ResponseTopic))
        {
            RpcLog.RequestWithoutResponseTopic(_logger, method);
            return Task.CompletedTask;
        }

        if (problem is not null)
        {
            RpcLog.ResponseTopicRefused(_logger, $"fleet {group} {method}", problem);
            return Task.CompletedTask;
        }

        if (_methods.GetValueOrDefault(method) is not { FleetServed: true })
        {
            var served = string.Join(", ", _methods.Values.Where(m => m.FleetServed).Select(m => m.Name).Order(StringComparer.Ordinal));
            return ReplyAsync(request, Error(0, RpcErrorCodes.MethodNotFound, $"'{method}' is not served on the fleet topic, only {served}: call it on a device's own topic."));
        }

        return AcceptAsync(request, message.Payload);
    }

    private Task OnRpcAsync(MqttApplicationMessage message)
    {
        if (!Topics.TryGetRpcMethod(message.Topic, _device.DeviceId, out var method))
        {
            return Task.CompletedTask;
        }

        if (RefusedResponseTopic(message, method))
        {
            return message.Retain ? ClearRetainedAsync(message.Topic) : Task.CompletedTask;
        }

        var request = new Request(method, null, message.ResponseTopic, message.CorrelationData, IdempotencyKey(message));
        if (message.Retain)
        {
            return RefuseRetainedAsync(message, request);
        }

        if (string.IsNullOrEmpty(message.ResponseTopic))
        {
            RpcLog.RequestWithoutResponseTopic(_logger, method);
            return Task.CompletedTask;
        }

        return AcceptAsync(request, message.Payload);
    }

    /// <summary>
    /// A request of an MQTT 3.1.1 client: the reply topic, correlation id, idempotency key and parameters come in the
    /// payload (<see cref="RpcEnvelope"/>), and every reply carries the correlation id in its body. The reply topic
    /// must be under the device's replies, as a response topic must (<see cref="ReplyTopicProblem(string)"/>), since the daemon
    /// publishes there with its own rights. An envelope that cannot be answered is logged and dropped, and a
    /// retained one is cleared all the same.
    /// </summary>
    private async Task OnRpcEnvelopeAsync(MqttApplicationMessage message)
    {
        if (!Topics.TryGetRpcEnvelopeMethod(message.Topic, _device.DeviceId, out var method) || (message.Retain && message.Payload.IsEmpty))
        {
            return; // not ours, or the empty retained message that clears a refused one
        }

        var limit = (_methods.GetValueOrDefault(method)?.MaxPayloadBytes ?? _options.MaxPayloadBytes) + EnvelopeAllowanceBytes;
        var (request, problem) = message.Payload.Length > limit
            ? (null, $"the envelope is {message.Payload.Length} bytes; the limit for {method} is {limit} bytes with the envelope")
            : ReadEnvelope(message.Payload, method);
        if (request is null)
        {
            RpcLog.EnvelopeUnreadable(_logger, method, problem!);
            if (message.Retain)
            {
                await ClearRetainedAsync(message.Topic).ConfigureAwait(false);
            }

            return;
        }

        if (message.Retain)
        {
            await RefuseRetainedAsync(message, request).ConfigureAwait(false);
            return;
        }

        await AcceptAsync(request, new ReadOnlySequence<byte>(request.Payload!)).ConfigureAwait(false);
    }

    /// <summary>The request an envelope carries (its parameters in <see cref="Request.Payload"/>), or why there is none.</summary>
    private (Request? Request, string? Problem) ReadEnvelope(ReadOnlySequence<byte> payload, string method)
    {
        if (payload.IsEmpty)
        {
            return (null, "the payload is empty");
        }

        RpcEnvelope? envelope;
        try
        {
            envelope = ContractJson.Deserialize<RpcEnvelope>(payload.ToArray());
        }
        catch (JsonException ex)
        {
            return (null, ex.Message);
        }

        if (envelope?.ReplyTo is not { } replyTo)
        {
            return (null, "replyTo is missing");
        }

        if (ReplyTopicProblem(replyTo) is { } problem)
        {
            return (null, problem);
        }

        var request = new Request(method, null, replyTo, null, envelope.IdempotencyKey is { Length: > 0 } key ? key : null)
        {
            EnvelopeCorrelationId = envelope.CorrelationId ?? "",
            Payload = envelope.Parameters is { } given ? JsonSerializer.SerializeToUtf8Bytes(given, ContractJsonContext.Default.JsonElement) : [],
        };
        return (request, null);
    }

    /// <summary>
    /// A request whose MQTT 5 response topic the daemon will not publish to is not executed, only logged: the daemon
    /// publishes replies with its own rights, so a client must not point them at another device's or the daemon's own
    /// request topics.
    /// </summary>
    private bool RefusedResponseTopic(MqttApplicationMessage message, string what)
    {
        if (string.IsNullOrEmpty(message.ResponseTopic) || ReplyTopicProblem(message.ResponseTopic) is not { } problem)
        {
            return false;
        }

        RpcLog.ResponseTopicRefused(_logger, what, problem);
        return true;
    }

    /// <summary>
    /// Why a reply topic (an MQTT 5 response topic, or an envelope's <c>replyTo</c>) is not one the daemon publishes to,
    /// or null: a valid MQTT topic name (up to 65535 UTF-8 bytes, no wildcard, no control character) under the device's
    /// replies, <c>appliance/v1/{deviceId}/replies/</c>.
    /// </summary>
    private string? ReplyTopicProblem(string topic) => ReplyTopicProblem(topic, Topics.Replies(_device.DeviceId, ""));

    private static string? ReplyTopicProblem(string topic, string prefix)
    {
        if (!topic.StartsWith(prefix, StringComparison.Ordinal) || topic.Length == prefix.Length)
        {
            return $"the reply topic must be under {prefix}, for example {prefix}my-client";
        }

        if (System.Text.Encoding.UTF8.GetByteCount(topic) > 65535 || topic.Any(c => c is '+' or '#' || char.IsControl(c) || char.IsSurrogate(c)))
        {
            return "the reply topic is not a valid MQTT topic name (wildcards, control characters, or longer than 65535 bytes)";
        }

        return null;
    }

    /// <summary>A meeting command: answered like an RPC when it has a response topic, carried out all the same when not.</summary>
    private Task OnMeetingControlAsync(MqttApplicationMessage message)
    {
        if (!Topics.TryGetMeetingSession(message.Topic, _device.DeviceId, MeetingTopic.Control, out var sessionId))
        {
            return Task.CompletedTask;
        }

        if (RefusedResponseTopic(message, $"meetings {sessionId} control"))
        {
            return message.Retain ? ClearRetainedAsync(message.Topic) : Task.CompletedTask;
        }

        var request = new Request(null, sessionId, message.ResponseTopic, message.CorrelationData, IdempotencyKey(message));
        return message.Retain ? RefuseRetainedAsync(message, request) : AcceptAsync(request, message.Payload);
    }

    /// <summary>
    /// A request with the retain flag (published so, or replayed from the broker's retained store) is never executed:
    /// it is logged, answered <c>retained_request</c> and cleared from the broker, so no reconnect replays it again.
    /// The empty retained message of the clear comes back here too, and is only passed over.
    /// </summary>
    private async Task RefuseRetainedAsync(MqttApplicationMessage message, Request request)
    {
        if (message.Payload.IsEmpty)
        {
            return;
        }

        var cleared = await ClearRetainedAsync(message.Topic).ConfigureAwait(false);
        RpcLog.RetainedRequestRefused(_logger, request.Name, message.Topic, cleared ? "and cleared from the broker" : "but could not be cleared from the broker (is this account allowed to publish on the request topic?)");
        await ReplyAsync(request, Error(0, RpcErrorCodes.RetainedRequest, $"Requests must not be retained: this {request.Name} request carried the retain flag and was not executed{(cleared ? "; its retained copy was cleared from the broker" : "")}. Publish requests without retain.")).ConfigureAwait(false);
    }

    /// <summary>Removes the retained message of a request topic (an empty retained message); false when the broker could not be told.</summary>
    private Task<bool> ClearRetainedAsync(string topic) =>
        _mqtt.TryPublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload([]).WithRetainFlag(true).WithQualityOfServiceLevel(Channels.RpcRequest.Qos).Build(), _replies.Token);

    /// <summary>Checks the size, then queues the request (or its meeting lane takes it).</summary>
    /// <param name="request">The request, with where to reply.</param>
    /// <param name="payload">The method's parameters as received; the buffer belongs to MQTTnet and is copied.</param>
    private async Task AcceptAsync(Request request, ReadOnlySequence<byte> payload)
    {
        var target = request.Method is null ? null : _methods.GetValueOrDefault(request.Method);
        var limit = target?.MaxPayloadBytes ?? _options.MaxPayloadBytes;
        if (payload.Length > limit)
        {
            await ReplyAsync(request, Error(0, RpcErrorCodes.PayloadTooLarge, $"The request is {payload.Length} bytes; the limit for {request.Name} is {limit} bytes.")).ConfigureAwait(false);
            return;
        }

        request.Payload = payload.ToArray();
        request.Lane = request.ControlledSession ?? (target is { InSessionOrder: true } ? SessionIdOf(request.Payload) : null);
        if (request.Lane is { } lane)
        {
            // The receive path runs in arrival order, so the lane keeps it: behind a busy lane the command waits its turn.
            var busy = false;
            lock (_lanes)
            {
                if (!_lanes.TryGetValue(lane, out var waiting))
                {
                    _lanes[lane] = new Queue<Request>();
                }
                else if (_waitingInLanes < _options.QueueCapacity)
                {
                    waiting.Enqueue(request);
                    _waitingInLanes++;
                    return;
                }
                else
                {
                    busy = true;
                }
            }

            if (busy)
            {
                await ReplyBusyAsync(request).ConfigureAwait(false);
                return;
            }
        }

        if (!_queue.Writer.TryWrite(request))
        {
            // Not served, so neither is anything that queued behind it in its lane.
            for (var refused = request; refused is not null; refused = NextInLane(refused))
            {
                await ReplyBusyAsync(refused).ConfigureAwait(false);
            }
        }
    }

    private Task ReplyBusyAsync(Request request) =>
        ReplyAsync(request, new RpcReply
        {
            Final = true,
            Error = new RpcError(RpcErrorCodes.Busy, $"The device has {_options.QueueCapacity} requests waiting; try again shortly.") { RetryAfterSeconds = 1 },
        });

    /// <summary>After <paramref name="done"/>: the next command in its lane, which the caller serves now, or null (the lane is free).</summary>
    private Request? NextInLane(Request done)
    {
        if (done.Lane is not { } lane)
        {
            return null;
        }

        lock (_lanes)
        {
            var waiting = _lanes[lane];
            if (waiting.TryDequeue(out var next))
            {
                _waitingInLanes--;
                return next;
            }

            _lanes.Remove(lane);
            return null;
        }
    }

    /// <summary>The <c>sessionId</c> of a request, read as its handler reads it; null when it has none or is not JSON (answered in its turn).</summary>
    private static string? SessionIdOf(byte[] payload)
    {
        try
        {
            return ContractJson.Deserialize<SessionIdParams>(payload)?.SessionId;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task ServeAsync(Request request, CancellationToken cancellationToken)
    {
        if (request.IdempotencyKey is { } key)
        {
            switch (_idempotency.Admit(key, out var earlier))
            {
                case IdempotencyCache.Admission.InFlight:
                    RpcLog.DuplicateInFlight(_logger, request.Name, key);
                    return;
                case IdempotencyCache.Admission.Answered:
                    RpcLog.DuplicateAnswered(_logger, request.Name, key);
                    await ReplyAsync(request, earlier!).ConfigureAwait(false);
                    return;
            }
        }

        var final = await RunAsync(request, cancellationToken).ConfigureAwait(false);
        if (request.IdempotencyKey is { } completedKey)
        {
            _idempotency.Complete(completedKey, final);
        }

        await ReplyAsync(request, final).ConfigureAwait(false);
    }

    private async Task<RpcReply> RunAsync(Request request, CancellationToken cancellationToken)
    {
        JsonElement parameters;
        try
        {
            parameters = ParseParameters(request.Payload!);
        }
        catch (JsonException ex)
        {
            return Error(0, RpcErrorCodes.InvalidJson, $"The request is not valid JSON: {ex.Message}");
        }

        if (parameters.ValueKind != JsonValueKind.Object)
        {
            return Error(0, RpcErrorCodes.InvalidParams, $"The request must be a JSON object, not {parameters.ValueKind.ToString().ToLowerInvariant()}.");
        }

        var methodName = request.Method;
        if (request.ControlledSession is { } sessionId)
        {
            MeetingControl? command;
            try
            {
                command = ContractJson.Deserialize<MeetingControl>(parameters);
            }
            catch (JsonException ex)
            {
                return Error(0, RpcErrorCodes.InvalidJson, $"The control message is not valid: {ex.Message}");
            }

            if (command?.ToRequest(sessionId) is not { } call)
            {
                return Error(0, RpcErrorCodes.InvalidParams, "action must be start, stop or abort");
            }

            (methodName, parameters) = call;
        }

        if (methodName is null || !_methods.TryGetValue(methodName, out var method))
        {
            return Error(0, RpcErrorCodes.MethodNotFound, $"There is no method '{methodName}'. Methods: {string.Join(", ", _methods.Keys.Order(StringComparer.Ordinal))}.");
        }

        var rpcCall = new RpcCall(parameters, (reply, _) => ReplyAsync(request, reply)) { FromFleet = request.ServedBy is not null };
        try
        {
            var outcome = await method.InvokeAsync(rpcCall, cancellationToken).ConfigureAwait(false);
            _metrics.RecordRequest(methodName, outcome.Error?.Code);
            return new RpcReply { Seq = rpcCall.NextSeq, Final = true, Result = outcome.Error is null ? outcome.Result : null, Error = outcome.Error };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Error(rpcCall.NextSeq, RpcErrorCodes.Cancelled, "The request was cancelled: the daemon is shutting down.");
        }
#pragma warning disable CA1031 // A bug in one method answers internal_error and leaves the daemon running.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            RpcLog.MethodFailed(_logger, methodName, ex);
            _metrics.RecordRequest(methodName, RpcErrorCodes.Internal);
            return Error(rpcCall.NextSeq, RpcErrorCodes.Internal, $"{methodName} failed: {ex.Message}");
        }
    }

    /// <summary>Publishes a reply; replies keep going out during shutdown until the host stops waiting.</summary>
    private async Task ReplyAsync(Request request, RpcReply reply)
    {
        if (request.ResponseTopic is not { Length: > 0 } responseTopic)
        {
            return; // a meeting command without a response topic is carried out unanswered
        }

        var message = new MqttApplicationMessageBuilder()
            .WithTopic(responseTopic)
            .WithPayload(Channels.RpcReply.Serialize(reply with { CorrelationId = request.EnvelopeCorrelationId ?? reply.CorrelationId, ServedBy = request.ServedBy }))
            .WithContentType("application/json")
            .WithQualityOfServiceLevel(Channels.RpcReply.Qos)
            .WithReplyProperties(reply.Seq, reply.Final);
        if (request.CorrelationData is { } correlation)
        {
            message.WithCorrelationData(correlation);
        }

        if (!await _mqtt.TryPublishAsync(message.Build(), _replies.Token).ConfigureAwait(false))
        {
            RpcLog.ReplyLost(_logger, request.Name, responseTopic);
        }
    }

    /// <summary>The request's JSON; an empty payload is an empty object.</summary>
    /// <exception cref="JsonException">The payload is not JSON.</exception>
    private static JsonElement ParseParameters(byte[] payload) => JsonElement.Parse(payload.Length == 0 ? "{}"u8 : payload);

    private static RpcReply Error(int seq, string code, string message) =>
        new() { Seq = seq, Final = true, Error = new RpcError(code, message) };

    private static string? IdempotencyKey(MqttApplicationMessage message) =>
        UserProperties.Read(message.UserProperties, UserProperties.IdempotencyKey) is { Length: > 0 } key ? key : null;

    /// <summary>A request in the queue: an RPC method, or a meeting command for <see cref="ControlledSession"/>.</summary>
    private sealed class Request(string? method, string? controlledSession, string? responseTopic, byte[]? correlationData, string? idempotencyKey)
    {
        public string? Method { get; } = method;

        public string? ControlledSession { get; } = controlledSession;

        public string? ResponseTopic { get; } = responseTopic;

        public byte[]? CorrelationData { get; } = correlationData;

        public string? IdempotencyKey { get; } = idempotencyKey;

        /// <summary>The correlation id of an MQTT 3.1.1 envelope request, echoed in the reply body; null for MQTT 5 requests.</summary>
        public string? EnvelopeCorrelationId { get; init; }

        /// <summary>This device's id on a request taken from the fleet topic, told in every reply; null otherwise.</summary>
        public string? ServedBy { get; init; }

        public byte[]? Payload { get; set; }

        /// <summary>The meeting whose commands this one is ordered with, or null.</summary>
        public string? Lane { get; set; }

        public string Name => Method ?? $"meeting control of {ControlledSession}";
    }
}
