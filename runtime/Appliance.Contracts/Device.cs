using System.Text.Json.Serialization;

namespace Appliance.Contracts;

/// <summary>The retained document on <c>appliance/v1/{deviceId}/status</c>, also the result of <c>status.get</c>.</summary>
public sealed record StatusDocument
{
    /// <summary>False in the last will and after an orderly stop.</summary>
    public required bool Online { get; init; }

    /// <summary>The device id.</summary>
    public required string DeviceId { get; init; }

    /// <summary>The daemon's version (semantic version, no build metadata).</summary>
    public string? Version { get; init; }

    /// <summary>The device profile in use.</summary>
    public ProfileSummary? Profile { get; init; }

    /// <summary>When the daemon started (UTC).</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>Seconds since <see cref="StartedAt"/>.</summary>
    public long? UptimeSeconds { get; init; }

    /// <summary>Every model the profile declares or an RPC loaded, with its state.</summary>
    public IReadOnlyList<StatusModel>? Models { get; init; }

    /// <summary>The execution provider chosen from the profile's chain.</summary>
    public ExecutionProviderStatus? ExecutionProvider { get; init; }

    /// <summary>The health checks.</summary>
    public HealthReport? Health { get; init; }

    /// <summary>The fleet group the device takes its turn in (<c>Fleet:Group</c>), in the last will too; null for a device on its own.</summary>
    public string? FleetGroup { get; init; }

    /// <summary>The models over-the-air updates installed, the health window and the last rollback; null where updates are not configured.</summary>
    public OtaState? Ota { get; init; }

    /// <summary>How busy the device is as of <see cref="UpdatedAt"/>; online documents only.</summary>
    public DeviceLoad? Load { get; init; }

    /// <summary>Why the device is offline: "shutdown" (orderly stop) or "connection lost" (the last will).</summary>
    public string? Reason { get; init; }

    /// <summary>When this document was made (UTC).</summary>
    public DateTimeOffset? UpdatedAt { get; init; }
}

/// <summary>How busy a device is (<see cref="StatusDocument.Load"/>): what a fleet operator weighs hubs by.</summary>
/// <param name="Meetings">Meetings open now (each an incoming audio stream).</param>
/// <param name="MeetingCapacity">Meetings the device takes at once (the profile's <c>meetings.capacity</c>); more are answered <c>busy</c>.</param>
/// <param name="RpcRunning">Requests being served now (a <c>status.get</c> or <c>fleet.status</c> that asks counts itself).</param>
/// <param name="RpcQueued">Requests waiting for a worker (<c>Rpc:QueueCapacity</c> at most; more are answered <c>busy</c>).</param>
/// <param name="CpuPercent">The daemon's CPU time between its two latest published status documents, in percent of all the machine's cores (0–100).</param>
public sealed record DeviceLoad(int Meetings, int MeetingCapacity, int RpcRunning, int RpcQueued, double CpuPercent);

/// <summary>The result of <c>fleet.status</c>: every device of a fleet group, from the group's retained status documents.</summary>
/// <param name="Group">The fleet group.</param>
/// <param name="Devices">Each device's latest status document (offline ones with their reason), ordered by device id.</param>
public sealed record FleetStatusResult(string Group, IReadOnlyList<StatusDocument> Devices);

/// <summary>The profile of a status document.</summary>
/// <param name="Name">The profile's name, for example <c>rpi5-fridge</c>.</param>
/// <param name="Soc">The system on chip, vendor and model.</param>
/// <param name="MemoryBudgetMb">The profile's memory budget in MiB.</param>
public sealed record ProfileSummary(string Name, string Soc, int MemoryBudgetMb);

/// <summary>A model on the device, as the status document lists it.</summary>
/// <param name="Feature">What it serves: one of <see cref="ModelFeatures"/>.</param>
/// <param name="Id">The model id.</param>
/// <param name="State">One of <see cref="ModelStates"/>.</param>
/// <param name="ExecutionProvider">The execution provider it runs on, once loaded.</param>
/// <param name="Error">Why it failed or fell back.</param>
public sealed record StatusModel(string Feature, string Id, string State, string? ExecutionProvider = null, string? Error = null);

/// <summary>What a model on the device serves (<see cref="StatusModel.Feature"/>).</summary>
public static class ModelFeatures
{
    /// <summary>The profile's language model for voice commands.</summary>
    public const string VoiceLlm = "voiceLlm";

    /// <summary>The profile's language model for meeting summaries.</summary>
    public const string SummaryLlm = "summaryLlm";

    /// <summary>A language model loaded by <c>models.load</c> without a feature.</summary>
    public const string Llm = "llm";

    /// <summary>The speech recognizer (Whisper).</summary>
    public const string Asr = "asr";

    /// <summary>The voice activity detector (Silero).</summary>
    public const string Vad = "vad";

    /// <summary>The wake-word detector (openWakeWord).</summary>
    public const string WakeWord = "wakeWord";
}

/// <summary>Where a model stands (<see cref="StatusModel.State"/>, <see cref="LanguageModelInfo.State"/>).</summary>
public static class ModelStates
{
    /// <summary>Being loaded.</summary>
    public const string Loading = "loading";

    /// <summary>Loaded and taking requests.</summary>
    public const string Loaded = "loaded";

    /// <summary>The last load failed; the error says why.</summary>
    public const string Failed = "failed";

    /// <summary>Unloaded by <c>models.unload</c>.</summary>
    public const string Unloaded = "unloaded";

    /// <summary>Replaced by a simpler stand-in (the VAD on the energy detector); the error says why.</summary>
    public const string Fallback = "fallback";
}

/// <summary>The execution provider taken from the profile's chain, and the ones passed over with the reason.</summary>
/// <param name="Chosen">The provider's ONNX Runtime name, for example <c>CPUExecutionProvider</c>.</param>
/// <param name="Skipped">Providers of the chain passed over, in chain order.</param>
public sealed record ExecutionProviderStatus(string Chosen, IReadOnlyList<SkippedExecutionProvider> Skipped);

/// <summary>A provider of the profile's chain that was passed over.</summary>
/// <param name="Name">The provider's ONNX Runtime name.</param>
/// <param name="Reason">Why it was passed over.</param>
public sealed record SkippedExecutionProvider(string Name, string Reason);

/// <summary>The health of the device, also the result of <c>health.get</c>.</summary>
/// <param name="Status"><see cref="HealthStatus.Ok"/> when every check is, otherwise <see cref="HealthStatus.Degraded"/>.</param>
/// <param name="Checks">Every check by name (<c>mqtt</c>, <c>llm</c>, <c>speech</c>, <c>gpio</c>, <c>sensor:{id}</c>, <c>memory</c>, …).</param>
public sealed record HealthReport(string Status, IReadOnlyDictionary<string, HealthCheck> Checks);

/// <summary>One health check.</summary>
/// <param name="Status"><see cref="HealthStatus.Ok"/> or <see cref="HealthStatus.Degraded"/>.</param>
/// <param name="Detail">What the check found, for people.</param>
public sealed record HealthCheck(string Status, string? Detail = null);

/// <summary>The values of <see cref="HealthCheck.Status"/> and <see cref="HealthReport.Status"/>.</summary>
public static class HealthStatus
{
    /// <summary>Working.</summary>
    public const string Ok = "ok";

    /// <summary>Running with a part missing or failing; the detail says which.</summary>
    public const string Degraded = "degraded";
}

/// <summary>One sensor reading on <c>appliance/v1/{deviceId}/telemetry</c>: the values, or the error of a failed read (never a stale value).</summary>
public sealed record TelemetryReading
{
    /// <summary>The sensor's id in the profile.</summary>
    public required string Sensor { get; init; }

    /// <summary>The sensor's type: <c>sht3x</c> or <c>bme280</c>, or <see cref="DoorType"/> for a door's contact.</summary>
    public required string Type { get; init; }

    /// <summary>The <see cref="Type"/> of a door's state.</summary>
    public const string DoorType = "door";

    /// <summary>When it was read (UTC).</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>Temperature in °C, rounded to 0.01.</summary>
    public double? TemperatureC { get; init; }

    /// <summary>Relative humidity in %, rounded to 0.01.</summary>
    public double? HumidityPercent { get; init; }

    /// <summary>Air pressure in hPa, rounded to 0.01.</summary>
    public double? PressureHpa { get; init; }

    /// <summary>For a door (<see cref="Type"/> <c>door</c>): whether it is open; published at start, at every change, at every connection and every 60 s.</summary>
    public bool? Open { get; init; }

    /// <summary>Why the read failed (<see cref="SensorErrorCodes"/>); no values then.</summary>
    public RpcError? Error { get; init; }
}

/// <summary>
/// An event on <c>appliance/v1/{deviceId}/voice/events</c>. The JSON carries a <c>type</c> naming the kind:
/// <c>push_to_talk</c>, <c>speech_started</c>, <c>speech_ended</c>, <c>wake_word</c>, <c>transcript</c>, <c>error</c>,
/// <c>confirmation_requested</c>, <c>confirmation_ended</c> or <c>handled</c>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(PushToTalkEvent), "push_to_talk")]
[JsonDerivedType(typeof(SpeechStartedEvent), "speech_started")]
[JsonDerivedType(typeof(SpeechEndedEvent), "speech_ended")]
[JsonDerivedType(typeof(WakeWordEvent), "wake_word")]
[JsonDerivedType(typeof(ConfirmationRequestedEvent), "confirmation_requested")]
[JsonDerivedType(typeof(ConfirmationEndedEvent), "confirmation_ended")]
[JsonDerivedType(typeof(UtteranceTranscribedEvent), "transcript")]
[JsonDerivedType(typeof(VoiceErrorEvent), "error")]
[JsonDerivedType(typeof(IntentHandledEvent), "handled")]
public abstract record VoiceEvent
{
    /// <summary>When it happened (UTC).</summary>
    public required DateTimeOffset At { get; init; }
}

/// <summary>The push-to-talk button was pressed or released (debounced).</summary>
public sealed record PushToTalkEvent : VoiceEvent
{
    /// <summary>The <see cref="State"/> of a press.</summary>
    public const string Pressed = "pressed";

    /// <summary>The <see cref="State"/> of a release.</summary>
    public const string Released = "released";

    /// <summary><see cref="Pressed"/> or <see cref="Released"/>.</summary>
    public required string State { get; init; }
}

/// <summary>Voice activity detection heard speech begin.</summary>
public sealed record SpeechStartedEvent : VoiceEvent
{
    /// <summary>Position in the captured audio stream, seconds since listening began.</summary>
    public required double AudioTime { get; init; }
}

/// <summary>Voice activity detection heard speech end.</summary>
public sealed record SpeechEndedEvent : VoiceEvent
{
    /// <summary>Position in the captured audio stream, seconds since listening began.</summary>
    public required double AudioTime { get; init; }

    /// <summary>How long the speech lasted, in seconds.</summary>
    public required double DurationSeconds { get; init; }
}

/// <summary>The wake word was heard.</summary>
public sealed record WakeWordEvent : VoiceEvent
{
    /// <summary>The classifier's name, for example <c>hey_jarvis_v0.1</c>.</summary>
    public required string Word { get; init; }

    /// <summary>The classifier's score, 0 to 1, rounded to 0.001.</summary>
    public required double Score { get; init; }

    /// <summary>Position in the captured audio stream, seconds since listening began.</summary>
    public required double AudioTime { get; init; }
}

/// <summary>An intent the profile marks <c>confirm</c> was understood and waits for yes or no; it is not carried out yet.</summary>
public sealed record ConfirmationRequestedEvent : VoiceEvent
{
    /// <summary>The utterance whose intent waits; <c>voice.confirm</c> names it.</summary>
    public required string UtteranceId { get; init; }

    /// <summary>The waiting intent.</summary>
    public required string Intent { get; init; }

    /// <summary>Its checked slot values.</summary>
    public required System.Text.Json.Nodes.JsonObject Slots { get; init; }

    /// <summary>The question for the user.</summary>
    public required string Prompt { get; init; }

    /// <summary>When the question expires unanswered (UTC).</summary>
    public required DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>A confirmation ended: confirmed (the intent follows on <c>voice/intents</c>), declined, expired or replaced.</summary>
public sealed record ConfirmationEndedEvent : VoiceEvent
{
    /// <summary>The utterance whose intent waited.</summary>
    public required string UtteranceId { get; init; }

    /// <summary>The intent that waited.</summary>
    public required string Intent { get; init; }

    /// <summary>One of <see cref="VoiceConfirmations"/> other than <c>pending</c>.</summary>
    public required string Outcome { get; init; }
}

/// <summary>A spoken command was transcribed; its intent follows on <c>voice/intents</c> (or a confirmation is asked).</summary>
public sealed record UtteranceTranscribedEvent : VoiceEvent
{
    /// <summary>The utterance's id, the same as its intent's.</summary>
    public required string UtteranceId { get; init; }

    /// <summary>What Whisper heard; empty when it heard no speech.</summary>
    public required string Text { get; init; }

    /// <summary>The language it was transcribed in (given, or detected among the profile's).</summary>
    public required string Language { get; init; }

    /// <summary>The utterance's length in seconds.</summary>
    public required double DurationSeconds { get; init; }
}

/// <summary>A spoken command could not be handled (no speech model, a transcription that failed); nothing was published on <c>voice/intents</c>.</summary>
public sealed record VoiceErrorEvent : VoiceEvent
{
    /// <summary>The utterance's id.</summary>
    public required string UtteranceId { get; init; }

    /// <summary>An error code of the contract (<c>unavailable</c>, <c>transcription_failed</c>).</summary>
    public required string Code { get; init; }

    /// <summary>What went wrong, in words.</summary>
    public required string Message { get; init; }
}

/// <summary>
/// How the appliance's acknowledgement of an intent ended, for a profile whose <c>commands.handled</c> asks the
/// appliance for one: the reply spoken for the intent follows from it.
/// </summary>
public sealed record IntentHandledEvent : VoiceEvent
{
    /// <summary>The utterance whose intent was published on <c>voice/intents</c>.</summary>
    public required string UtteranceId { get; init; }

    /// <summary>The intent.</summary>
    public required string Intent { get; init; }

    /// <summary>One of <see cref="IntentHandledOutcomes"/>.</summary>
    public required string Outcome { get; init; }

    /// <summary>The reply the user gets for it (the intent's own, the appliance's message, or the profile's failed or no-answer reply).</summary>
    public required string Reply { get; init; }
}
