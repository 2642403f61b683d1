using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Mqtt;

/// <summary>The MQTT endpoint's log messages (event ids 2000–2099).</summary>
internal static partial class MqttLog
{
    [LoggerMessage(2000, LogLevel.Information, "Embedded MQTT broker listening on {Address}:{Port} ({Tls}, {Authentication}, packets up to {MaximumPacketSize} bytes)")]
    public static partial void BrokerListening(ILogger logger, string address, int port, string tls, string authentication, int maximumPacketSize);

    [LoggerMessage(2001, LogLevel.Information, "Connected to MQTT broker {Host}:{Port} ({Mode})")]
    public static partial void Connected(ILogger logger, string host, int port, string mode);

    [LoggerMessage(2002, LogLevel.Warning, "Lost the MQTT connection: {Reason} {Detail}")]
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

    [LoggerMessage(2013, LogLevel.Warning, "Subscribing {Count} topic filter(s) failed; they are retried: {Detail}")]
    public static partial void SubscribeFailed(ILogger logger, int count, string detail);

    [LoggerMessage(2014, LogLevel.Error, "The MQTT broker refused subscriptions: {Reasons}")]
    public static partial void SubscribeRefused(ILogger logger, string reasons);

    [LoggerMessage(2012, LogLevel.Warning, "MQTT disconnect did not complete cleanly: {Detail}")]
    public static partial void DisconnectUnclean(ILogger logger, string detail);

    [LoggerMessage(2015, LogLevel.Warning, "Refused a {Packet} packet of {Bytes} bytes from client {ClientId} at {Remote}: the maximum packet size is {Limit} bytes; the connection is closed")]
    public static partial void PacketTooLarge(ILogger logger, string packet, long bytes, string clientId, string remote, int limit);

    [LoggerMessage(2016, LogLevel.Warning, "The embedded broker does not listen on {Address}: {Detail}")]
    public static partial void ListenerSkipped(ILogger logger, string address, string detail);

    [LoggerMessage(2017, LogLevel.Warning, "The embedded broker could not accept a connection ({Code}): {Detail}")]
    public static partial void AcceptFailed(ILogger logger, string code, string detail);

    [LoggerMessage(2018, LogLevel.Debug, "Connection from {Remote} ended: {Detail}")]
    public static partial void ClientConnectionEnded(ILogger logger, string remote, string detail);

    [LoggerMessage(2019, LogLevel.Error, "Connection from {Remote} failed")]
    public static partial void ClientConnectionFailed(ILogger logger, string remote, Exception exception);
}
