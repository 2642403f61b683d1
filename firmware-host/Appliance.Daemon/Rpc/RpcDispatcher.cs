using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Contracts;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Status;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Rpc;

/// <summary>
/// Serves <c>appliance/v1/{deviceId}/rpc/{method}</c>: checks size and JSON, de-duplicates by idempotency
/// key, queues the request (bounded; a full queue answers "busy" rather than blocking the MQTT receive
/// path), runs the method on one of a fixed number of workers and publishes every reply to the request's
/// response topic with its correlation data, sequence number and final marker. On shutdown it stops
/// taking requests and lets the ones in work finish.
/// </summary>
internal sealed class RpcDispatcher : BackgroundService
{
    private readonly MqttConnection _mqtt;
    private readonly DeviceContext _device;
    private readonly RpcOptions _options;
    private readonly ILogger<RpcDispatcher> _logger;
    private readonly Dictionary<string, IRpcMethod> _methods;
    private readonly IdempotencyCache _idempotency;
    private readonly Channel<Request> _queue;

    public RpcDispatcher(MqttConnection mqtt, DeviceContext device, IEnumerable<IRpcMethod> methods, IOptions<RpcOptions> options, TimeProvider time, ILogger<RpcDispatcher> logger)
    {
        _mqtt = mqtt;
        _device = device;
        _options = options.Value;
        _logger = logger;
        _methods = methods.ToDictionary(m => m.Name, StringComparer.Ordinal);
        _idempotency = new IdempotencyCache(TimeSpan.FromSeconds(_options.IdempotencyWindowSeconds), _options.IdempotencyCapacity, time);
        _queue = Channel.CreateBounded<Request>(new BoundedChannelOptions(_options.QueueCapacity) { FullMode = BoundedChannelFullMode.Wait });
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await _mqtt.SubscribeAsync(Topics.RpcFilter(_device.DeviceId), MqttQualityOfServiceLevel.AtLeastOnce, OnRequestAsync, cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Take no new work; the workers drain what was accepted, then ExecuteAsync returns.
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _options.MaxConcurrent).Select(_ => WorkAsync()));

    private async Task WorkAsync()
    {
        // Accepted requests are finished even while the host stops: the stop token is not passed on.
        await foreach (var request in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            await ServeAsync(request, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task OnRequestAsync(MqttApplicationMessage message)
    {
        if (!Topics.TryGetRpcMethod(message.Topic, _device.DeviceId, out var method))
        {
            return;
        }

        if (string.IsNullOrEmpty(message.ResponseTopic))
        {
            Log.RequestWithoutResponseTopic(_logger, method);
            return;
        }

        var request = new Request(method, message.ResponseTopic, message.CorrelationData, IdempotencyKey(message), null);
        var limit = _methods.GetValueOrDefault(method)?.MaxPayloadBytes ?? _options.MaxPayloadBytes;
        if (message.Payload.Length > limit)
        {
            await ReplyAsync(request, Error(0, RpcErrorCodes.PayloadTooLarge, $"The request is {message.Payload.Length} bytes; the limit for {method} is {limit} bytes."), CancellationToken.None).ConfigureAwait(false);
            return;
        }

        // The payload buffer belongs to MQTTnet and is reused after this handler returns: copy it.
        request = request with { Payload = message.Payload.ToArray() };
        if (!_queue.Writer.TryWrite(request))
        {
            await ReplyAsync(request, Error(0, RpcErrorCodes.Busy, $"The device has {_options.QueueCapacity} requests waiting; try again shortly."), CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task ServeAsync(Request request, CancellationToken cancellationToken)
    {
        if (request.IdempotencyKey is { } key)
        {
            switch (_idempotency.Admit(key, out var earlier))
            {
                case IdempotencyCache.Admission.InFlight:
                    Log.DuplicateInFlight(_logger, request.Method, key);
                    return;
                case IdempotencyCache.Admission.Answered:
                    Log.DuplicateAnswered(_logger, request.Method, key);
                    await ReplyAsync(request, earlier!, cancellationToken).ConfigureAwait(false);
                    return;
            }
        }

        var final = await RunAsync(request, cancellationToken).ConfigureAwait(false);
        if (request.IdempotencyKey is { } completedKey)
        {
            _idempotency.Complete(completedKey, final);
        }

        await ReplyAsync(request, final, cancellationToken).ConfigureAwait(false);
    }

    private async Task<RpcReply> RunAsync(Request request, CancellationToken cancellationToken)
    {
        JsonElement parameters;
        try
        {
            parameters = request.Payload!.Length == 0
                ? JsonSerializer.SerializeToElement(new { })
                : JsonSerializer.Deserialize<JsonElement>(request.Payload);
        }
        catch (JsonException ex)
        {
            return Error(0, RpcErrorCodes.InvalidJson, $"The request is not valid JSON: {ex.Message}");
        }

        if (parameters.ValueKind != JsonValueKind.Object)
        {
            return Error(0, RpcErrorCodes.InvalidParams, $"The request must be a JSON object, not {parameters.ValueKind.ToString().ToLowerInvariant()}.");
        }

        if (!_methods.TryGetValue(request.Method, out var method))
        {
            return Error(0, RpcErrorCodes.MethodNotFound, $"There is no method '{request.Method}'. Methods: {string.Join(", ", _methods.Keys.Order(StringComparer.Ordinal))}.");
        }

        var call = new RpcCall(request.Method, parameters, (reply, ct) => ReplyAsync(request, reply, ct));
        try
        {
            var outcome = await method.InvokeAsync(call, cancellationToken).ConfigureAwait(false);
            return outcome.Error is { } error
                ? new RpcReply { Seq = call.NextSeq, Final = true, Error = error }
                : new RpcReply { Seq = call.NextSeq, Final = true, Result = JsonSerializer.SerializeToElement(outcome.Result, ContractJson.Options) };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Error(call.NextSeq, RpcErrorCodes.Cancelled, "The request was cancelled.");
        }
        catch (Exception ex)
        {
            Log.MethodFailed(_logger, request.Method, ex);
            return Error(call.NextSeq, RpcErrorCodes.Internal, $"{request.Method} failed: {ex.Message}");
        }
    }

    private async Task ReplyAsync(Request request, RpcReply reply, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(request.ResponseTopic)
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(reply, ContractJson.Options))
            .WithContentType("application/json")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithUserProperty(UserPropertyNames.Sequence, Encoding.UTF8.GetBytes(reply.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture)).AsMemory())
            .WithUserProperty(UserPropertyNames.Final, Encoding.UTF8.GetBytes(reply.Final ? "true" : "false").AsMemory());
        if (request.CorrelationData is { } correlation)
        {
            message.WithCorrelationData(correlation);
        }

        if (!await _mqtt.TryPublishAsync(message.Build(), cancellationToken).ConfigureAwait(false))
        {
            Log.ReplyLost(_logger, request.Method, request.ResponseTopic);
        }
    }

    private static RpcReply Error(int seq, string code, string message) =>
        new() { Seq = seq, Final = true, Error = new RpcError(code, message) };

    private static string? IdempotencyKey(MqttApplicationMessage message) =>
        message.UserProperties?.FirstOrDefault(p => p.Name == UserPropertyNames.IdempotencyKey)?.ReadValueAsString() is { Length: > 0 } key ? key : null;

    private sealed record Request(string Method, string ResponseTopic, byte[]? CorrelationData, string? IdempotencyKey, byte[]? Payload);
}
