using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Rpc;

/// <summary>The RPC dispatcher's log messages (event ids 3000–3099).</summary>
internal static partial class RpcLog
{
    [LoggerMessage(3010, LogLevel.Warning, "Retained {Method} request on {Topic} refused {Cleared}: requests must not be retained")]
    public static partial void RetainedRequestRefused(ILogger logger, string method, string topic, string cleared);

    [LoggerMessage(3011, LogLevel.Warning, "MQTT 3.1.1 envelope request for {Method} is not a valid envelope; dropped: {Detail}")]
    public static partial void EnvelopeUnreadable(ILogger logger, string method, string detail);

    [LoggerMessage(3012, LogLevel.Warning, "Request for {Method} not executed: {Detail}")]
    public static partial void ResponseTopicRefused(ILogger logger, string method, string detail);

    [LoggerMessage(3000, LogLevel.Warning, "RPC request for {Method} has no response topic; dropped")]
    public static partial void RequestWithoutResponseTopic(ILogger logger, string method);

    [LoggerMessage(3001, LogLevel.Debug, "Duplicate {Method} request {Key} while the first is in work; dropped")]
    public static partial void DuplicateInFlight(ILogger logger, string method, string key);

    [LoggerMessage(3002, LogLevel.Information, "Duplicate {Method} request {Key}; answered from the first run")]
    public static partial void DuplicateAnswered(ILogger logger, string method, string key);

    [LoggerMessage(3003, LogLevel.Error, "RPC method {Method} failed")]
    public static partial void MethodFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(3004, LogLevel.Warning, "Reply to {Method} on {Topic} could not be published")]
    public static partial void ReplyLost(ILogger logger, string method, string topic);
}
