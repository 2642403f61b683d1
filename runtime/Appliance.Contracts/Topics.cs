namespace Appliance.Contracts;

/// <summary>
/// Topic names of contract v1. Every topic of a device lives under <c>appliance/v1/{deviceId}/</c>, so a
/// broker ACL on that prefix confines a device's credentials to its own topics.
/// </summary>
public static class Topics
{
    public const string Root = "appliance/v1";

    /// <summary>The prefix of every topic of <paramref name="deviceId"/>, ending in a slash.</summary>
    public static string DevicePrefix(string deviceId) => $"{Root}/{deviceId}/";

    /// <summary>Retained status document; the last will sets it offline.</summary>
    public static string Status(string deviceId) => $"{Root}/{deviceId}/status";

    /// <summary>Sensor readings (QoS 0, not retained).</summary>
    public static string Telemetry(string deviceId) => $"{Root}/{deviceId}/telemetry";

    /// <summary>Voice events: push-to-talk, wake word, speech start and end.</summary>
    public static string VoiceEvents(string deviceId) => $"{Root}/{deviceId}/voice/events";

    /// <summary>Requests for one RPC method.</summary>
    public static string Rpc(string deviceId, string method) => $"{Root}/{deviceId}/rpc/{method}";

    /// <summary>The filter the daemon subscribes to for all RPC requests of a device.</summary>
    public static string RpcFilter(string deviceId) => $"{Root}/{deviceId}/rpc/+";

    /// <summary>
    /// The response topic a client uses for its replies: under the device's prefix, so that a client holding
    /// only that device's credentials may subscribe to it.
    /// </summary>
    public static string Replies(string deviceId, string clientId) => $"{Root}/{deviceId}/replies/{clientId}";

    /// <summary>Reads the method name out of an RPC request topic of <paramref name="deviceId"/>.</summary>
    public static bool TryGetRpcMethod(string topic, string deviceId, out string method)
    {
        var prefix = $"{Root}/{deviceId}/rpc/";
        if (topic.StartsWith(prefix, StringComparison.Ordinal) && topic.Length > prefix.Length && topic.IndexOf('/', prefix.Length) < 0)
        {
            method = topic[prefix.Length..];
            return true;
        }

        method = "";
        return false;
    }

    /// <summary>Whether a device id may appear as a topic level (no wildcards, separators or spaces).</summary>
    public static bool IsValidDeviceId(string deviceId) =>
        deviceId.Length is > 0 and <= 64 && deviceId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
