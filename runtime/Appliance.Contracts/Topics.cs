namespace Appliance.Contracts;

/// <summary>
/// Topic names of contract v1. Every topic of a device lives under <c>appliance/v1/{deviceId}/</c>, so a broker ACL on
/// that prefix confines a device's credentials to its own topics. The address templates, QoS and retain flags of each
/// topic are in <see cref="Channels"/>; this class builds and parses concrete topic names. Pure functions: thread-safe.
/// </summary>
public static class Topics
{
    /// <summary>The first two levels of every topic of contract v1.</summary>
    public const string Root = "appliance/v1";

    private const string RpcLevel = "rpc";
    private const string RpcEnvelopeLevel = "rpc311";
    private const string MeetingsLevel = "meetings";

    /// <summary>The level under the root that holds a fleet's topics (<c>appliance/v1/fleet/{group}/…</c>); no device may take it as its id.</summary>
    public const string FleetLevel = "fleet";

    /// <summary>The prefix of every topic of <paramref name="deviceId"/>, ending in a slash.</summary>
    /// <param name="deviceId">A device id (see <see cref="Identifiers.IsValidDeviceId"/>).</param>
    public static string DevicePrefix(string deviceId) => $"{Root}/{deviceId}/";

    /// <summary>Retained status document; the last will sets it offline.</summary>
    /// <param name="deviceId">The device.</param>
    public static string Status(string deviceId) => $"{Root}/{deviceId}/status";

    /// <summary>Every device's retained status document (<c>appliance/v1/+/status</c>): what a fleet view reads.</summary>
    public const string StatusFilter = $"{Root}/+/status";

    /// <summary>Reads the device id out of a status topic.</summary>
    /// <param name="topic">A received topic name.</param>
    /// <param name="deviceId">The device id level (not yet validated), or empty when the topic does not match.</param>
    /// <returns>True when <paramref name="topic"/> is <c>appliance/v1/{deviceId}/status</c>.</returns>
    public static bool TryGetStatusDevice(string topic, out string deviceId)
    {
        ArgumentNullException.ThrowIfNull(topic);
        const string Suffix = "/status";
        if (topic.EndsWith(Suffix, StringComparison.Ordinal) && TryGetLastLevel(topic[..^Suffix.Length], Root + "/", out deviceId))
        {
            return true;
        }

        deviceId = "";
        return false;
    }

    /// <summary>Sensor readings (QoS 0, not retained).</summary>
    /// <param name="deviceId">The device.</param>
    public static string Telemetry(string deviceId) => $"{Root}/{deviceId}/telemetry";

    /// <summary>Voice events: push-to-talk, wake word, speech start and end.</summary>
    /// <param name="deviceId">The device.</param>
    public static string VoiceEvents(string deviceId) => $"{Root}/{deviceId}/voice/events";

    /// <summary>Interpreted voice commands, one message per utterance (QoS 1, not retained).</summary>
    /// <param name="deviceId">The device.</param>
    public static string VoiceIntents(string deviceId) => $"{Root}/{deviceId}/voice/intents";

    /// <summary>The appliance's acknowledgements of the intents it took from <c>voice/intents</c> (QoS 1, not retained).</summary>
    /// <param name="deviceId">The device.</param>
    public static string VoiceHandled(string deviceId) => $"{Root}/{deviceId}/voice/handled";

    /// <summary>Spoken replies: one Ogg Opus file per reply (QoS 1, not retained).</summary>
    /// <param name="deviceId">The device.</param>
    public static string VoiceTts(string deviceId) => $"{Root}/{deviceId}/voice/tts";

    /// <summary>Requests for one RPC method.</summary>
    /// <param name="deviceId">The device.</param>
    /// <param name="method">The method name, for example <c>llm.chat</c> (see <see cref="RpcMethods"/>).</param>
    public static string Rpc(string deviceId, string method) => $"{Root}/{deviceId}/{RpcLevel}/{method}";

    /// <summary>The filter the daemon subscribes to for all RPC requests of a device.</summary>
    /// <param name="deviceId">The device.</param>
    public static string RpcFilter(string deviceId) => $"{Root}/{deviceId}/{RpcLevel}/+";

    /// <summary>Requests for one RPC method in the payload-envelope form of MQTT 3.1.1 clients (<see cref="Contracts.RpcEnvelope"/>).</summary>
    /// <param name="deviceId">The device.</param>
    /// <param name="method">The method name.</param>
    public static string RpcEnvelope(string deviceId, string method) => $"{Root}/{deviceId}/{RpcEnvelopeLevel}/{method}";

    /// <summary>The filter the daemon subscribes to for all envelope requests of a device.</summary>
    /// <param name="deviceId">The device.</param>
    public static string RpcEnvelopeFilter(string deviceId) => $"{Root}/{deviceId}/{RpcEnvelopeLevel}/+";

    /// <summary>
    /// The response topic a client uses for its replies: under the device's prefix, so that a client holding only that
    /// device's credentials may subscribe to it.
    /// </summary>
    /// <param name="deviceId">The device the client talks to.</param>
    /// <param name="clientId">The client's MQTT client id (one topic level).</param>
    public static string Replies(string deviceId, string clientId) => $"{Root}/{deviceId}/replies/{clientId}";

    /// <summary>Requests for one RPC method to any hub of a fleet group: each is taken by one hub (an MQTT 5 shared subscription).</summary>
    /// <param name="group">The fleet group (see <see cref="Identifiers.IsValidDeviceId"/>, the same rule).</param>
    /// <param name="method">The method name.</param>
    public static string FleetRpc(string group, string method) => $"{Root}/{FleetLevel}/{group}/{RpcLevel}/{method}";

    /// <summary>The shared subscription through which the hubs of <paramref name="group"/> take turns at its requests: <c>$share/{group}/appliance/v1/fleet/{group}/rpc/+</c>.</summary>
    /// <param name="group">The fleet group.</param>
    public static string FleetRpcSharedFilter(string group) => $"$share/{group}/{Root}/{FleetLevel}/{group}/{RpcLevel}/+";

    /// <summary>The response topic of a client of a fleet group: whichever hub serves a request answers there.</summary>
    /// <param name="group">The fleet group.</param>
    /// <param name="clientId">The client's MQTT client id (one topic level).</param>
    public static string FleetReplies(string group, string clientId) => $"{Root}/{FleetLevel}/{group}/replies/{clientId}";

    /// <summary>Reads the method name out of a fleet request topic of <paramref name="group"/>.</summary>
    /// <param name="topic">A received topic name.</param>
    /// <param name="group">The fleet group the topic must belong to.</param>
    /// <param name="method">The method name, or empty when the topic does not match.</param>
    /// <returns>True when <paramref name="topic"/> is <c>appliance/v1/fleet/{group}/rpc/{method}</c>.</returns>
    public static bool TryGetFleetRpcMethod(string topic, string group, out string method) => TryGetLastLevel(topic, $"{Root}/{FleetLevel}/{group}/{RpcLevel}/", out method);

    /// <summary>A device's over-the-air update progress (<see cref="OtaProgressEvent"/>, retained).</summary>
    /// <param name="deviceId">The device.</param>
    public static string OtaProgress(string deviceId) => $"{Root}/{deviceId}/ota/progress";

    /// <summary>The release announced to a fleet group (<see cref="OtaAnnouncement"/>, retained).</summary>
    /// <param name="group">The fleet group.</param>
    public static string OtaAnnouncement(string group) => $"{Root}/{FleetLevel}/{group}/ota";

    /// <summary>A meeting's control topic: start, stop and abort commands, answered like RPC requests.</summary>
    /// <param name="deviceId">The device.</param>
    /// <param name="sessionId">The meeting (see <see cref="Identifiers.IsValidSessionId"/>).</param>
    public static string MeetingControl(string deviceId, string sessionId) => Meeting(deviceId, sessionId, MeetingTopic.Control);

    /// <summary>A meeting's audio frames (QoS 0), one codec frame per message with <see cref="UserProperties"/> <c>seq</c> and <c>codec</c>.</summary>
    /// <param name="deviceId">The device.</param>
    /// <param name="sessionId">The meeting.</param>
    public static string MeetingAudio(string deviceId, string sessionId) => Meeting(deviceId, sessionId, MeetingTopic.Audio);

    /// <summary>A meeting's transcript segments (<see cref="TranscriptSegment"/>).</summary>
    /// <param name="deviceId">The device.</param>
    /// <param name="sessionId">The meeting.</param>
    public static string MeetingTranscript(string deviceId, string sessionId) => Meeting(deviceId, sessionId, MeetingTopic.Transcript);

    /// <summary>A meeting's progress events (<see cref="MeetingProgress"/>).</summary>
    /// <param name="deviceId">The device.</param>
    /// <param name="sessionId">The meeting.</param>
    public static string MeetingProgress(string deviceId, string sessionId) => Meeting(deviceId, sessionId, MeetingTopic.Progress);

    /// <summary>A meeting's retained summary (<see cref="MeetingSummary"/>); an empty retained message clears it.</summary>
    /// <param name="deviceId">The device.</param>
    /// <param name="sessionId">The meeting.</param>
    public static string MeetingSummary(string deviceId, string sessionId) => Meeting(deviceId, sessionId, MeetingTopic.Summary);

    /// <summary>The filter matching one kind of meeting topic of every session of a device, for example <c>…/meetings/+/audio</c>.</summary>
    /// <param name="deviceId">The device.</param>
    /// <param name="topic">Which topic of the meeting.</param>
    public static string MeetingFilter(string deviceId, MeetingTopic topic) => Meeting(deviceId, "+", topic);

    /// <summary>
    /// The filter inside an MQTT 5 shared subscription (<c>$share/{group}/{filter}</c>); any other filter is returned as
    /// it is.
    /// </summary>
    /// <param name="filter">A subscription's topic filter.</param>
    /// <param name="inner">The wrapped filter, or <paramref name="filter"/> itself.</param>
    /// <returns>False for a shared subscription without a filter (<c>$share/{group}</c>).</returns>
    public static bool TryUnwrapSharedSubscription(string filter, out string inner)
    {
        ArgumentNullException.ThrowIfNull(filter);
        const string Shared = "$share/";
        inner = filter;
        if (!filter.StartsWith(Shared, StringComparison.Ordinal))
        {
            return true;
        }

        var groupEnd = filter.IndexOf('/', Shared.Length);
        if (groupEnd < 0)
        {
            return false;
        }

        inner = filter[(groupEnd + 1)..];
        return true;
    }

    /// <summary>Reads the method name out of an RPC request topic of <paramref name="deviceId"/>.</summary>
    /// <param name="topic">A received topic name.</param>
    /// <param name="deviceId">The device the topic must belong to.</param>
    /// <param name="method">The method name, or empty when the topic is not an RPC request topic of the device.</param>
    /// <returns>True when <paramref name="topic"/> is <c>appliance/v1/{deviceId}/rpc/{method}</c>.</returns>
    public static bool TryGetRpcMethod(string topic, string deviceId, out string method) => TryGetLastLevel(topic, $"{Root}/{deviceId}/{RpcLevel}/", out method);

    /// <summary>Reads the method name out of an envelope request topic of <paramref name="deviceId"/>.</summary>
    /// <param name="topic">A received topic name.</param>
    /// <param name="deviceId">The device the topic must belong to.</param>
    /// <param name="method">The method level, or empty when the topic does not match.</param>
    /// <returns>True when <paramref name="topic"/> is <c>appliance/v1/{deviceId}/rpc311/{method}</c>.</returns>
    public static bool TryGetRpcEnvelopeMethod(string topic, string deviceId, out string method) => TryGetLastLevel(topic, $"{Root}/{deviceId}/{RpcEnvelopeLevel}/", out method);

    /// <summary>Reads the session id out of a meeting topic of <paramref name="deviceId"/>.</summary>
    /// <param name="topic">A received topic name.</param>
    /// <param name="deviceId">The device the topic must belong to.</param>
    /// <param name="kind">Which meeting topic is expected.</param>
    /// <param name="sessionId">The session id level (not yet validated), or empty when the topic does not match.</param>
    /// <returns>True when <paramref name="topic"/> is <c>appliance/v1/{deviceId}/meetings/{sessionId}/{kind}</c>.</returns>
    public static bool TryGetMeetingSession(string topic, string deviceId, MeetingTopic kind, out string sessionId)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var prefix = $"{Root}/{deviceId}/{MeetingsLevel}/";
        var suffix = "/" + Leaf(kind);
        if (topic.StartsWith(prefix, StringComparison.Ordinal) && topic.EndsWith(suffix, StringComparison.Ordinal) && topic.Length > prefix.Length + suffix.Length)
        {
            var id = topic[prefix.Length..^suffix.Length];
            if (!id.Contains('/', StringComparison.Ordinal))
            {
                sessionId = id;
                return true;
            }
        }

        sessionId = "";
        return false;
    }

    private static bool TryGetLastLevel(string topic, string prefix, out string level)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (topic.StartsWith(prefix, StringComparison.Ordinal) && topic.Length > prefix.Length && topic.IndexOf('/', prefix.Length) < 0)
        {
            level = topic[prefix.Length..];
            return true;
        }

        level = "";
        return false;
    }

    private static string Meeting(string deviceId, string sessionId, MeetingTopic topic) => $"{Root}/{deviceId}/{MeetingsLevel}/{sessionId}/{Leaf(topic)}";

    private static string Leaf(MeetingTopic topic) => topic switch
    {
        MeetingTopic.Control => "control",
        MeetingTopic.Audio => "audio",
        MeetingTopic.Transcript => "transcript",
        MeetingTopic.Progress => "progress",
        MeetingTopic.Summary => "summary",
        _ => throw new ArgumentOutOfRangeException(nameof(topic), topic, "not a meeting topic"),
    };
}

/// <summary>The topics of one meeting session, under <c>appliance/v1/{deviceId}/meetings/{sessionId}/</c>.</summary>
public enum MeetingTopic
{
    /// <summary><c>control</c>: start, stop and abort commands (client to daemon).</summary>
    Control,

    /// <summary><c>audio</c>: the audio frames (client to daemon).</summary>
    Audio,

    /// <summary><c>transcript</c>: transcript segments (daemon to client).</summary>
    Transcript,

    /// <summary><c>progress</c>: progress events (daemon to client).</summary>
    Progress,

    /// <summary><c>summary</c>: the retained summary (daemon to client).</summary>
    Summary,
}
