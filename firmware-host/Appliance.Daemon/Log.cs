using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>The daemon's log messages, with stable event ids (1xxx host, 2xxx MQTT, 3xxx RPC, 4xxx hardware; 5xxx are Appliance.Llm's).</summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Ready in {ElapsedMs} ms: device {DeviceId}, profile {Profile}, {Broker}, connected {Connected}, execution provider {ExecutionProvider}")]
    public static partial void Ready(ILogger logger, long elapsedMs, string deviceId, string profile, string broker, bool connected, string executionProvider);

    [LoggerMessage(1001, LogLevel.Information, "Execution provider {Name} skipped: {Reason}")]
    public static partial void ExecutionProviderSkipped(ILogger logger, string name, string reason);

    [LoggerMessage(2000, LogLevel.Information, "Embedded MQTT broker listening on {Address}:{Port} ({Tls}, {Authentication})")]
    public static partial void BrokerListening(ILogger logger, string address, int port, string tls, string authentication);

    [LoggerMessage(2001, LogLevel.Information, "Connected to MQTT broker {Host}:{Port} ({Mode})")]
    public static partial void Connected(ILogger logger, string host, int port, string mode);

    [LoggerMessage(2002, LogLevel.Warning, "Lost the MQTT connection ({Reason}): {Detail}")]
    public static partial void Disconnected(ILogger logger, string reason, string? detail);

    [LoggerMessage(2003, LogLevel.Warning, "Cannot connect to MQTT broker {Host}:{Port}: {Detail}")]
    public static partial void ConnectFailed(ILogger logger, string host, int port, string detail);

    [LoggerMessage(2004, LogLevel.Warning, "MQTT broker {Host}:{Port} refused the connection: {Code} {Reason}")]
    public static partial void ConnectRefused(ILogger logger, string host, int port, string code, string? reason);

    [LoggerMessage(2005, LogLevel.Information, "Reconnecting to {Host}:{Port} in {Delay}")]
    public static partial void Reconnecting(ILogger logger, string host, int port, TimeSpan delay);

    [LoggerMessage(2006, LogLevel.Warning, "No MQTT broker at {Host}:{Port} within {Limit}; starting anyway and retrying in the background")]
    public static partial void StartingWithoutBroker(ILogger logger, string host, int port, TimeSpan limit);

    [LoggerMessage(2007, LogLevel.Debug, "Publish to {Topic} failed: {Detail}")]
    public static partial void PublishFailed(ILogger logger, string topic, string detail);

    [LoggerMessage(2008, LogLevel.Error, "Handler for {Topic} failed")]
    public static partial void HandlerFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(EventId = 2009, Message = "MQTTnet {Source}: {Message}")]
    public static partial void MqttNet(ILogger logger, LogLevel level, string source, string message, Exception? exception);

    [LoggerMessage(2011, LogLevel.Error, "MQTT connection set-up failed")]
    public static partial void ConnectSetupFailed(ILogger logger, Exception exception);

    [LoggerMessage(2012, LogLevel.Warning, "MQTT disconnect did not complete cleanly: {Detail}")]
    public static partial void DisconnectUnclean(ILogger logger, string detail);

    [LoggerMessage(2010, LogLevel.Debug, "Status not published: not connected")]
    public static partial void StatusNotPublished(ILogger logger);

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

    [LoggerMessage(4000, LogLevel.Information, "Push-to-talk {State}")]
    public static partial void PushToTalk(ILogger logger, string state);

    [LoggerMessage(4002, LogLevel.Warning, "GPIO unavailable, running without the button and the LED: {Problem}")]
    public static partial void GpioUnavailable(ILogger logger, string problem);

    [LoggerMessage(4003, LogLevel.Warning, "Sensor {Sensor} unavailable: {Problem}")]
    public static partial void SensorUnavailable(ILogger logger, string sensor, string problem);

    [LoggerMessage(4004, LogLevel.Information, "Wake word {Word} heard (score {Score})")]
    public static partial void WakeWord(ILogger logger, string word, float score);

    [LoggerMessage(4005, LogLevel.Warning, "Microphone capture stopped: {Problem}")]
    public static partial void MicrophoneStopped(ILogger logger, string problem);

    [LoggerMessage(6000, LogLevel.Information, "Meeting {SessionId} resumed after a restart: {Accepted} frames in its journal, stop pending {StopPending}")]
    public static partial void MeetingResumed(ILogger logger, string sessionId, long accepted, bool stopPending);

    [LoggerMessage(6001, LogLevel.Information, "Meeting {SessionId} completed; summary from {Source}")]
    public static partial void MeetingCompleted(ILogger logger, string sessionId, string source);

    [LoggerMessage(6002, LogLevel.Warning, "Meeting {SessionId}: extractive summary instead of the model's ({Reason})")]
    public static partial void SummaryFallback(ILogger logger, string sessionId, string reason);

    [LoggerMessage(6003, LogLevel.Error, "Meeting {SessionId} failed; its audio stays in the journal and a restart tries it again")]
    public static partial void MeetingFailed(ILogger logger, string sessionId, Exception error);

    [LoggerMessage(4001, LogLevel.Warning, "Sensor {Sensor} read failed ({Code}: {Detail}); {Failures} in a row")]
    public static partial void SensorReadFailed(ILogger logger, string sensor, string code, string detail, int failures);
}
