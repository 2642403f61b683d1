using System.Text.Json.Serialization.Metadata;
using MQTTnet.Protocol;

namespace Appliance.Contracts;

/// <summary>
/// One topic of contract v1 as the AsyncAPI document (<c>docs/asyncapi.yaml</c>) describes it: its channel name there,
/// its address template (with <c>{deviceId}</c>, <c>{sessionId}</c>, … parameters), the QoS and retain flag it is
/// published with, and the type of its payload. Immutable; thread-safe.
/// </summary>
public abstract class ContractChannel
{
    private protected ContractChannel(string name, string address, MqttQualityOfServiceLevel qos, bool retained, Type? payloadType)
    {
        Name = name;
        Address = address;
        Qos = qos;
        Retained = retained;
        PayloadType = payloadType;
    }

    /// <summary>The channel's name in the AsyncAPI document.</summary>
    public string Name { get; }

    /// <summary>The address template, for example <c>appliance/v1/{deviceId}/status</c>.</summary>
    public string Address { get; }

    /// <summary>The QoS it is published with.</summary>
    public MqttQualityOfServiceLevel Qos { get; }

    /// <summary>Whether messages on it are retained.</summary>
    public bool Retained { get; }

    /// <summary>The JSON payload type; null for a channel whose payload is not one JSON type (requests, audio).</summary>
    public Type? PayloadType { get; }

    /// <inheritdoc />
    public override string ToString() => Address;
}

/// <summary>A channel whose payload is JSON of <typeparamref name="T"/>.</summary>
/// <typeparam name="T">The payload type, declared on <see cref="ContractJsonContext"/>.</typeparam>
public sealed class ContractChannel<T> : ContractChannel
{
    internal ContractChannel(string name, string address, MqttQualityOfServiceLevel qos, bool retained)
        : base(name, address, qos, retained, typeof(T))
    {
        PayloadInfo = ContractJson.Info<T>();
    }

    /// <summary>How the payload is serialized.</summary>
    public JsonTypeInfo<T> PayloadInfo { get; }

    /// <summary>The UTF-8 JSON payload of <paramref name="value"/>.</summary>
    /// <param name="value">The payload.</param>
    public byte[] Serialize(T value) => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(value, PayloadInfo);

    /// <summary>The payload read from a message's UTF-8 JSON bytes, as the MQTT client hands them over.</summary>
    /// <param name="payload">The message's payload.</param>
    /// <returns>The value; null for the JSON <c>null</c>.</returns>
    /// <exception cref="System.Text.Json.JsonException">The payload is not JSON of <typeparamref name="T"/>.</exception>
    /// <exception cref="InvalidOperationException">The payload is not UTF-8 text.</exception>
    public T? Deserialize(System.Buffers.ReadOnlySequence<byte> payload)
    {
        var reader = new System.Text.Json.Utf8JsonReader(payload);
        return System.Text.Json.JsonSerializer.Deserialize(ref reader, PayloadInfo);
    }
}

/// <summary>A channel whose payload is not a single JSON type.</summary>
public sealed class RawContractChannel : ContractChannel
{
    internal RawContractChannel(string name, string address, MqttQualityOfServiceLevel qos, bool retained)
        : base(name, address, qos, retained, null)
    {
    }
}

/// <summary>Every channel of contract v1, as named in <c>docs/asyncapi.yaml</c>.</summary>
public static class Channels
{
    /// <summary>The retained device status; the last will replaces it with an offline document.</summary>
    public static ContractChannel<StatusDocument> Status { get; } = new("status", Topics.Status("{deviceId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: true);

    /// <summary>RPC requests: the method's parameters (see <see cref="RpcMethods"/>).</summary>
    public static RawContractChannel RpcRequest { get; } = new("rpcRequest", Topics.Rpc("{deviceId}", "{method}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>RPC requests of MQTT 3.1.1 clients: an <see cref="RpcEnvelope"/> with the reply topic and correlation id in the payload.</summary>
    public static ContractChannel<RpcEnvelope> RpcEnvelopeRequest { get; } = new("rpcEnvelopeRequest", Topics.RpcEnvelope("{deviceId}", "{method}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>RPC replies, on the request's response topic.</summary>
    public static ContractChannel<RpcReply> RpcReply { get; } = new("rpcReply", Topics.Replies("{deviceId}", "{clientId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary><c>appliance/v1/fleet/{group}/rpc/{method}</c>: a request to any hub of a fleet group (stateless methods), taken by one through a shared subscription.</summary>
    public static RawContractChannel FleetRpcRequest { get; } = new("fleetRpcRequest", Topics.FleetRpc("{group}", "{method}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary><c>appliance/v1/fleet/{group}/replies/{clientId}</c>: replies to fleet requests, each naming the device that served it.</summary>
    public static ContractChannel<RpcReply> FleetRpcReply { get; } = new("fleetRpcReply", Topics.FleetReplies("{group}", "{clientId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>Sensor readings.</summary>
    public static ContractChannel<TelemetryReading> Telemetry { get; } = new("telemetry", Topics.Telemetry("{deviceId}"), MqttQualityOfServiceLevel.AtMostOnce, retained: false);

    /// <summary>Voice events.</summary>
    public static ContractChannel<VoiceEvent> VoiceEvents { get; } = new("voiceEvents", Topics.VoiceEvents("{deviceId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>Interpreted voice commands.</summary>
    public static ContractChannel<VoiceIntent> VoiceIntents { get; } = new("voiceIntents", Topics.VoiceIntents("{deviceId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>The appliance's acknowledgements of voice intents.</summary>
    public static ContractChannel<VoiceHandled> VoiceHandled { get; } = new("voiceHandled", Topics.VoiceHandled("{deviceId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>Spoken replies: an Ogg Opus file (RFC 7845) of 16 kHz mono speech, with the utterance id and language in user properties.</summary>
    public static RawContractChannel VoiceTts { get; } = new("voiceTts", Topics.VoiceTts("{deviceId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>Meeting commands.</summary>
    public static ContractChannel<MeetingControl> MeetingControl { get; } = new("meetingControl", Topics.MeetingControl("{deviceId}", "{sessionId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>Meeting audio frames (binary; see <see cref="MeetingAudioFrame"/>).</summary>
    public static RawContractChannel MeetingAudio { get; } = new("meetingAudio", Topics.MeetingAudio("{deviceId}", "{sessionId}"), MqttQualityOfServiceLevel.AtMostOnce, retained: false);

    /// <summary>Transcript segments.</summary>
    public static ContractChannel<TranscriptSegment> MeetingTranscript { get; } = new("meetingTranscript", Topics.MeetingTranscript("{deviceId}", "{sessionId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>Progress events.</summary>
    public static ContractChannel<MeetingProgress> MeetingProgress { get; } = new("meetingProgress", Topics.MeetingProgress("{deviceId}", "{sessionId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: false);

    /// <summary>The retained summary.</summary>
    public static ContractChannel<MeetingSummary> MeetingSummary { get; } = new("meetingSummary", Topics.MeetingSummary("{deviceId}", "{sessionId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: true);

    /// <summary>Over-the-air update stages of a device; the last one is retained.</summary>
    public static ContractChannel<OtaProgressEvent> OtaProgress { get; } = new("otaProgress", Topics.OtaProgress("{deviceId}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: true);

    /// <summary>The release announced to a fleet group, retained.</summary>
    public static ContractChannel<OtaAnnouncement> OtaAnnouncement { get; } = new("otaAnnouncement", Topics.OtaAnnouncement("{group}"), MqttQualityOfServiceLevel.AtLeastOnce, retained: true);

    /// <summary>Every channel above.</summary>
    public static IReadOnlyList<ContractChannel> All { get; } =
        [Status, RpcRequest, RpcEnvelopeRequest, RpcReply, FleetRpcRequest, FleetRpcReply, Telemetry, VoiceEvents, VoiceIntents, VoiceHandled, VoiceTts, MeetingControl, MeetingAudio, MeetingTranscript, MeetingProgress, MeetingSummary, OtaProgress, OtaAnnouncement];
}
