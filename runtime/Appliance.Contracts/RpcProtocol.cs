using System.Text.Json;
using System.Text.Json.Serialization;

namespace Appliance.Contracts;

/// <summary>MQTT 5 user property names used by contract v1.</summary>
public static class UserPropertyNames
{
    /// <summary>On a request: a client-chosen key; a redelivered request with the same key is answered from the first run.</summary>
    public const string IdempotencyKey = "idempotency-key";

    /// <summary>On a reply: the reply's sequence number within its request (0, 1, 2, ...).</summary>
    public const string Sequence = "seq";

    /// <summary>On a reply: "true" on the last reply of a request.</summary>
    public const string Final = "final";
}

/// <summary>Stable error codes of structured error replies.</summary>
public static class RpcErrorCodes
{
    public const string MethodNotFound = "method_not_found";
    public const string InvalidJson = "invalid_json";
    public const string InvalidParams = "invalid_params";
    public const string PayloadTooLarge = "payload_too_large";
    public const string Busy = "busy";
    public const string Unavailable = "unavailable";
    public const string Cancelled = "cancelled";
    public const string Internal = "internal_error";
    public const string TranscriptionFailed = "transcription_failed";
}

/// <summary>Size limits and QoS per topic class, shared by the daemon and its clients.</summary>
public static class ContractLimits
{
    /// <summary>Default largest RPC request payload the daemon accepts (the Rpc:MaxPayloadBytes setting).</summary>
    public const int DefaultMaxRpcPayloadBytes = 64 * 1024;
}

/// <summary>A structured error: <c>{"code": "...", "message": "..."}</c>.</summary>
public sealed record RpcError(string Code, string Message);

/// <summary>
/// One reply message. Every reply body is a JSON object with <c>seq</c> and <c>final</c>, and exactly one of
/// <c>result</c> (the final answer), <c>delta</c> (a streamed part, never final) or <c>error</c> (always final).
/// </summary>
public sealed record RpcReply
{
    public int Seq { get; init; }
    public bool Final { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Result { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Delta { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RpcError? Error { get; init; }
}

/// <summary>The serializer settings of the contract: camelCase names, nulls omitted, enums as strings.</summary>
public static class ContractJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly();
        return options;
    }
}
