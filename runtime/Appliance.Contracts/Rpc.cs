using System.Text.Json;
using System.Text.Json.Serialization;

namespace Appliance.Contracts;

/// <summary>A structured error: <c>{"code": "...", "message": "...", "retryAfterSeconds"?: n}</c>.</summary>
/// <param name="Code">A stable code from <see cref="RpcErrorCodes"/> (or <see cref="SensorErrorCodes"/> on telemetry).</param>
/// <param name="Message">What went wrong, for people; not to be parsed.</param>
public sealed record RpcError(string Code, string Message)
{
    /// <summary><c>busy</c> only: in how many seconds the same request to the same device may succeed; another device may take it now.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? RetryAfterSeconds { get; init; }
}

/// <summary>
/// One reply message. Every reply body is a JSON object with <c>seq</c> and <c>final</c>, and exactly one of
/// <c>result</c> (the final answer), <c>delta</c> (a streamed part, never final) or <c>error</c> (always final).
/// </summary>
public sealed record RpcReply
{
    /// <summary>The reply's sequence number within its request: 0, 1, 2, …</summary>
    public int Seq { get; init; }

    /// <summary>True on the last reply of a request; every request gets exactly one.</summary>
    public bool Final { get; init; }

    /// <summary>The method's answer (final replies only), shaped as the method's result type.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Result { get; init; }

    /// <summary>A streamed part (non-final replies only), shaped as the method's delta type.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Delta { get; init; }

    /// <summary>Why the request failed (final replies only).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RpcError? Error { get; init; }

    /// <summary>
    /// The request's <see cref="RpcEnvelope.CorrelationId"/>, on replies to the MQTT 3.1.1 envelope path only (MQTT 5
    /// requests get their correlation data back as a property instead).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CorrelationId { get; init; }

    /// <summary>On replies to a request on a fleet topic only: the device that took and served it.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ServedBy { get; init; }
}

/// <summary>
/// A request for MQTT 3.1.1 clients, which have no response topic, correlation data or user properties: published to
/// <see cref="Topics.RpcEnvelope"/> (<c>appliance/v1/{deviceId}/rpc311/{method}</c>), with what MQTT 5 carries in
/// properties carried in the payload. The replies are the ordinary <see cref="RpcReply"/> messages, published to
/// <see cref="ReplyTo"/> with <see cref="RpcReply.CorrelationId"/> set.
/// </summary>
public sealed record RpcEnvelope
{
    /// <summary>The topic to publish the replies to (required), for example <c>appliance/v1/{deviceId}/replies/{clientId}</c>.</summary>
    public string? ReplyTo { get; init; }

    /// <summary>Echoed in every reply, so the client can match replies to requests; any string.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>The method's parameters, as the method's request schema; absent means <c>{}</c>.</summary>
    [JsonPropertyName("params")]
    public JsonElement? Parameters { get; init; }

    /// <summary>The same as the MQTT 5 <c>idempotency-key</c> user property: a repeated key is answered from the first run.</summary>
    public string? IdempotencyKey { get; init; }
}

/// <summary>The parameters of a method that takes none: <c>{}</c>.</summary>
public sealed record EmptyParams
{
    /// <summary>The one value.</summary>
    public static EmptyParams Instance { get; } = new();
}

/// <summary>Parameters naming a request to act on: <c>{"requestId"}</c> (<c>llm.cancel</c>, <c>asr.cancel</c>).</summary>
public sealed record RequestIdParams
{
    /// <summary>The id the request was started with.</summary>
    public string? RequestId { get; init; }
}

/// <summary>The result of a cancel: <c>{"cancelled": true|false}</c>.</summary>
/// <param name="Cancelled">True when a request with that id was queued or running and is now stopping.</param>
public sealed record CancelResult(bool Cancelled);
