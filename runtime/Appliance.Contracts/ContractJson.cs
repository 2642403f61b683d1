using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Appliance.Profiles;

namespace Appliance.Contracts;

/// <summary>
/// The one serializer of contract v1: System.Text.Json source generation over every wire type, with web defaults
/// (camelCase names, case-insensitive reads), nulls omitted and enums as their wire names. A type that is not declared
/// here cannot be serialized with it, so nothing undeclared reaches the wire.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(RpcReply))]
[JsonSerializable(typeof(RpcEnvelope))]
[JsonSerializable(typeof(EmptyParams))]
[JsonSerializable(typeof(RequestIdParams))]
[JsonSerializable(typeof(CancelResult))]
[JsonSerializable(typeof(StatusDocument))]
[JsonSerializable(typeof(FleetStatusResult))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(DeviceProfile))]
[JsonSerializable(typeof(TelemetryReading))]
[JsonSerializable(typeof(VoiceEvent))]
[JsonSerializable(typeof(LlmChatParams))]
[JsonSerializable(typeof(LlmChatDelta))]
[JsonSerializable(typeof(LlmChatResult))]
[JsonSerializable(typeof(ModelsListResult))]
[JsonSerializable(typeof(ModelsLoadParams))]
[JsonSerializable(typeof(LanguageModelInfo))]
[JsonSerializable(typeof(ModelIdParams))]
[JsonSerializable(typeof(ModelsUnloadResult))]
[JsonSerializable(typeof(ModelsSelectResult))]
[JsonSerializable(typeof(AsrTranscribeParams))]
[JsonSerializable(typeof(AsrTranscribeDelta))]
[JsonSerializable(typeof(AsrTranscribeResult))]
[JsonSerializable(typeof(VoiceTextParams))]
[JsonSerializable(typeof(VoiceIntent))]
[JsonSerializable(typeof(VoiceHandled))]
[JsonSerializable(typeof(VoiceConfirmParams))]
[JsonSerializable(typeof(VoiceAudioParams))]
[JsonSerializable(typeof(OtaBundleParams))]
[JsonSerializable(typeof(OtaRollbackParams))]
[JsonSerializable(typeof(OtaCheckResult))]
[JsonSerializable(typeof(OtaUpdateResult))]
[JsonSerializable(typeof(OtaState))]
[JsonSerializable(typeof(OtaProgressEvent))]
[JsonSerializable(typeof(OtaAnnouncement))]
[JsonSerializable(typeof(MeetingControl))]
[JsonSerializable(typeof(MeetingStartParams))]
[JsonSerializable(typeof(MeetingStopParams))]
[JsonSerializable(typeof(SessionIdParams))]
[JsonSerializable(typeof(MeetingControlResult))]
[JsonSerializable(typeof(MeetingsListResult))]
[JsonSerializable(typeof(MeetingsGetResult))]
[JsonSerializable(typeof(MeetingsDeleteResult))]
[JsonSerializable(typeof(MeetingInfo))]
[JsonSerializable(typeof(TranscriptSegment))]
[JsonSerializable(typeof(MeetingProgress))]
[JsonSerializable(typeof(MeetingSummary))]
[JsonSerializable(typeof(IReadOnlyList<SequenceGap>))]
public sealed partial class ContractJsonContext : JsonSerializerContext;

/// <summary>Serialization through <see cref="ContractJsonContext"/>. Thread-safe.</summary>
public static class ContractJson
{
    /// <summary>The type information of a contract type.</summary>
    /// <typeparam name="T">A type declared on <see cref="ContractJsonContext"/>.</typeparam>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not part of the contract.</exception>
    public static JsonTypeInfo<T> Info<T>() =>
        ContractJsonContext.Default.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
        ?? throw new NotSupportedException($"{typeof(T).FullName} is not a type of the MQTT contract; declare it on {nameof(ContractJsonContext)}.");

    /// <summary>UTF-8 JSON of a contract value.</summary>
    /// <typeparam name="T">A type declared on <see cref="ContractJsonContext"/>.</typeparam>
    /// <param name="value">The value.</param>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not part of the contract.</exception>
    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Info<T>());

    /// <summary>A contract value as a <see cref="JsonElement"/> (for the <c>result</c> and <c>delta</c> of a reply).</summary>
    /// <typeparam name="T">A type declared on <see cref="ContractJsonContext"/>.</typeparam>
    /// <param name="value">The value.</param>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not part of the contract.</exception>
    public static JsonElement ToElement<T>(T value) => JsonSerializer.SerializeToElement(value, Info<T>());

    /// <summary>The name a contract enum value has on the wire, for example <c>completed</c> for <see cref="MeetingPhase.Completed"/>.</summary>
    /// <typeparam name="T">An enum declared on <see cref="ContractJsonContext"/>.</typeparam>
    /// <param name="value">The value.</param>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not part of the contract.</exception>
    public static string WireName<T>(T value)
        where T : struct, Enum => ToElement(value).GetString()!;

    /// <summary>Reads a contract value from UTF-8 JSON.</summary>
    /// <typeparam name="T">A type declared on <see cref="ContractJsonContext"/>.</typeparam>
    /// <param name="utf8Json">The JSON.</param>
    /// <returns>The value; null for the JSON literal null.</returns>
    /// <exception cref="JsonException">The JSON is invalid or does not fit <typeparamref name="T"/>.</exception>
    public static T? Deserialize<T>(ReadOnlySpan<byte> utf8Json) => JsonSerializer.Deserialize(utf8Json, Info<T>());

    /// <summary>Reads a contract value from a JSON element.</summary>
    /// <typeparam name="T">A type declared on <see cref="ContractJsonContext"/>.</typeparam>
    /// <param name="element">The JSON.</param>
    /// <returns>The value; null for the JSON literal null.</returns>
    /// <exception cref="JsonException">The JSON does not fit <typeparamref name="T"/>.</exception>
    public static T? Deserialize<T>(JsonElement element) => element.Deserialize(Info<T>());
}
