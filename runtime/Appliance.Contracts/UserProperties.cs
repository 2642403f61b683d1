using System.Buffers;
using System.Globalization;
using System.Text;
using MQTTnet;
using MQTTnet.Packets;

namespace Appliance.Contracts;

/// <summary>The MQTT 5 user properties of contract v1, and the one way to write and read them.</summary>
public static class UserProperties
{
    /// <summary>On a request: a client-chosen key; a redelivered request with the same key is answered from the first run.</summary>
    public const string IdempotencyKey = "idempotency-key";

    /// <summary>On a reply: its sequence number within its request (0, 1, 2, …). On a meeting audio frame: the frame's sequence number.</summary>
    public const string Sequence = "seq";

    /// <summary>On a reply: <c>"true"</c> on the last reply of a request, else <c>"false"</c>.</summary>
    public const string Final = "final";

    /// <summary>On a meeting audio frame: the frame's codec (see <see cref="AudioCodecs"/>).</summary>
    public const string Codec = "codec";

    /// <summary>On <c>voice/tts</c>: the utterance whose reply the audio speaks.</summary>
    public const string UtteranceId = "utterance-id";

    /// <summary>On <c>voice/tts</c>: the language of the reply spoken.</summary>
    public const string Language = "language";

    /// <summary>The value of the first user property named <paramref name="name"/>, or null when the message has none.</summary>
    /// <param name="properties">The message's user properties (null when it has none).</param>
    /// <param name="name">The property name.</param>
    public static string? Read(IReadOnlyCollection<MqttUserProperty>? properties, string name)
    {
        if (properties is null)
        {
            return null;
        }

        foreach (var property in properties)
        {
            if (property.Name == name)
            {
                return property.ReadValueAsString();
            }
        }

        return null;
    }

    /// <summary>Adds the <c>seq</c> and <c>final</c> properties of a reply.</summary>
    /// <param name="builder">The reply message being built.</param>
    /// <param name="sequence">The reply's sequence number.</param>
    /// <param name="final">Whether it is the last reply of its request.</param>
    /// <returns>The builder.</returns>
    public static MqttApplicationMessageBuilder WithReplyProperties(this MqttApplicationMessageBuilder builder, int sequence, bool final)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder
            .WithUserProperty(Sequence, Encoding.UTF8.GetBytes(sequence.ToString(CultureInfo.InvariantCulture)).AsMemory())
            .WithUserProperty(Final, Encoding.UTF8.GetBytes(final ? "true" : "false").AsMemory());
    }
}

/// <summary>
/// One audio frame of a meeting on the wire: the payload (one codec frame), and its <c>seq</c> and <c>codec</c> user
/// properties. Frames go at QoS 0 with a short message expiry: a frame the broker still holds after
/// <see cref="ExpirySeconds"/> is worthless.
/// </summary>
public static class MeetingAudioFrame
{
    /// <summary>Message expiry of an audio frame, in seconds.</summary>
    public const uint ExpirySeconds = 30;

    /// <summary>Builds the MQTT message of one frame.</summary>
    /// <param name="deviceId">The device that records the meeting.</param>
    /// <param name="sessionId">The meeting.</param>
    /// <param name="sequence">The frame's sequence number: one more for each frame, from 0 or from any start (docs/mqtt-api.md, Meetings).</param>
    /// <param name="codec">The codec name the meeting was started with (see <see cref="AudioCodecs"/>).</param>
    /// <param name="payload">The encoded frame; the message references it, so keep it unchanged until published.</param>
    /// <returns>The message, ready to publish.</returns>
    /// <exception cref="ArgumentException">The device id or the session id is not valid (<see cref="Identifiers"/>).</exception>
    public static MqttApplicationMessage Create(string deviceId, string sessionId, long sequence, string codec, ReadOnlyMemory<byte> payload)
    {
        ApplianceClient.ThrowIfInvalid(deviceId, Identifiers.IsValidDeviceId(deviceId), "device id", Identifiers.DeviceIdDescription, nameof(deviceId));
        ApplianceClient.ThrowIfInvalid(sessionId, Identifiers.IsValidSessionId(sessionId), "session id", Identifiers.SessionIdDescription, nameof(sessionId));
        return new MqttApplicationMessageBuilder()
            .WithTopic(Topics.MeetingAudio(deviceId, sessionId))
            .WithPayload(new ReadOnlySequence<byte>(payload))
            .WithQualityOfServiceLevel(Channels.MeetingAudio.Qos)
            .WithMessageExpiryInterval(ExpirySeconds)
            .WithUserProperty(UserProperties.Sequence, Encoding.UTF8.GetBytes(sequence.ToString(CultureInfo.InvariantCulture)).AsMemory())
            .WithUserProperty(UserProperties.Codec, Encoding.UTF8.GetBytes(codec).AsMemory())
            .Build();
    }

    /// <summary>Reads a received frame's sequence number and codec.</summary>
    /// <param name="message">A message from a meeting audio topic.</param>
    /// <param name="sequence">The sequence number (decimal digits only), or -1.</param>
    /// <param name="codec">The codec name, or empty when the frame names none.</param>
    /// <returns>False when the frame has no readable sequence number.</returns>
    public static bool TryRead(MqttApplicationMessage message, out long sequence, out string codec)
    {
        ArgumentNullException.ThrowIfNull(message);
        codec = UserProperties.Read(message.UserProperties, UserProperties.Codec) ?? "";
        if (long.TryParse(UserProperties.Read(message.UserProperties, UserProperties.Sequence), NumberStyles.None, CultureInfo.InvariantCulture, out sequence))
        {
            return true;
        }

        sequence = -1;
        return false;
    }
}
