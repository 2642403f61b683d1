using System.Text.Json.Nodes;

namespace Appliance.Contracts;

/// <summary>The parameters of <c>voice.text</c>: an utterance as text, interpreted as if it had been spoken.</summary>
public sealed record VoiceTextParams
{
    /// <summary>The utterance; 1 to the profile's <c>commands.maxUtteranceChars</c> characters (500 by default).</summary>
    public string? Text { get; init; }

    /// <summary>Its language (<c>en</c>, <c>fa</c>, <c>ar</c>, <c>zh</c>, or a locale tag such as <c>en-US</c>), one of the profile's; when null, the profile's forced transcription language, else its first.</summary>
    public string? Language { get; init; }
}

/// <summary>The parameters of <c>voice.audio</c>: a spoken command as an audio clip, at most the profile's <c>commands.maxUtteranceSeconds</c> long.</summary>
public sealed record VoiceAudioParams
{
    /// <summary>The clip's bytes in base64: a WAV, MP3 or Ogg Opus file, or raw PCM (see <see cref="Format"/>).</summary>
    public string? Audio { get; init; }

    /// <summary>One of <see cref="AsrAudioFormats"/>: a file format (detected from the bytes also when null), or raw <c>s16le</c>/<c>f32le</c> with <see cref="SampleRate"/> and <see cref="Channels"/>.</summary>
    public string? Format { get; init; }

    /// <summary>Samples per second of raw PCM; 16000 when null.</summary>
    public int? SampleRate { get; init; }

    /// <summary>Interleaved channels of raw PCM; 1 when null.</summary>
    public int? Channels { get; init; }

    /// <summary>The language spoken, one of the profile's; detected among them when null.</summary>
    public string? Language { get; init; }
}

/// <summary>
/// An utterance interpreted against the device's command schema: the result of <c>voice.text</c>, also published on
/// <c>appliance/v1/{deviceId}/voice/intents</c> (QoS 1, not retained). <see cref="Intent"/> is always an intent of the
/// profile's schema or <c>not_understood</c>, and its slots always passed the schema's types and ranges.
/// </summary>
public sealed record VoiceIntent
{
    /// <summary>The utterance's id (32 hex digits), unique per utterance; <c>voice/handled</c> refers to it.</summary>
    public required string UtteranceId { get; init; }

    /// <summary>What was said, as transcribed or as given.</summary>
    public required string Transcript { get; init; }

    /// <summary>The language the utterance was interpreted in.</summary>
    public required string Language { get; init; }

    /// <summary>The intent's name from the profile's schema, or <c>not_understood</c>.</summary>
    public required string Intent { get; init; }

    /// <summary>The intent's slot values by name: numbers for <c>integer</c> slots, value names for <c>enum</c>, words for <c>text</c>; empty for <c>not_understood</c>.</summary>
    public required JsonObject Slots { get; init; }

    /// <summary>Which stage decided: one of <see cref="VoiceIntentSources"/>.</summary>
    public required string Source { get; init; }

    /// <summary>How sure that stage is, 0 to 1: 1 for a template match, 0 when no stage found an intent; null for the voice model, which gives no probability.</summary>
    public double? Confidence { get; init; }

    /// <summary>A short reply for the user, in <see cref="Language"/> where the profile gives one.</summary>
    public required string Reply { get; init; }

    /// <summary>Why the utterance is <c>not_understood</c> (no template matched, a slot out of range…); null otherwise.</summary>
    public string? Reason { get; init; }

    /// <summary>
    /// For an intent the profile marks <c>confirm</c>, where its confirmation stands: one of
    /// <see cref="VoiceConfirmations"/>. Only a <c>confirmed</c> one is published on <c>voice/intents</c>; null for
    /// intents that need no confirmation.
    /// </summary>
    public string? Confirmation { get; init; }

    /// <summary>When the intent was decided (UTC).</summary>
    public required DateTimeOffset At { get; init; }
}

/// <summary>
/// The appliance's acknowledgement of an intent it took from <c>voice/intents</c>, published by the appliance on
/// <c>appliance/v1/{deviceId}/voice/handled</c> (QoS 1, not retained; a retained one is ignored), so that the reply
/// spoken for the intent can say whether it worked. The daemon waits for it only when the profile's
/// <c>commands.handled</c> asks for it, for the intents that make the appliance act (not questions, not
/// <c>not_understood</c>), and at most <c>commands.handled.timeoutSeconds</c>.
/// </summary>
public sealed record VoiceHandled
{
    /// <summary>The <see cref="VoiceIntent.UtteranceId"/> of the intent; required.</summary>
    public string? UtteranceId { get; init; }

    /// <summary>True when the appliance carried the intent out, false when it could not; required.</summary>
    public bool? Ok { get; init; }

    /// <summary>
    /// Optional: what to tell the user instead of the profile's reply (at most 400 characters, in the utterance's
    /// language), for example why it failed ("The freezer door is open.").
    /// </summary>
    public string? Message { get; init; }
}

/// <summary>How the appliance's acknowledgement of an intent ended (<see cref="IntentHandledEvent.Outcome"/>).</summary>
public static class IntentHandledOutcomes
{
    /// <summary>The appliance carried the intent out: its reply (or the appliance's message) is said.</summary>
    public const string Done = "done";

    /// <summary>The appliance could not carry it out: its message, else the profile's <c>failedReply</c>, is said.</summary>
    public const string Failed = "failed";

    /// <summary>No acknowledgement came within <c>commands.handled.timeoutSeconds</c>: the profile's <c>noAnswerReply</c> is said.</summary>
    public const string NoAnswer = "no_answer";
}

/// <summary>The parameters of <c>voice.confirm</c>: the answer to a pending confirmation, as an app or a button gives it.</summary>
public sealed record VoiceConfirmParams
{
    /// <summary>The utterance whose intent waits for its confirmation.</summary>
    public string? UtteranceId { get; init; }

    /// <summary>True to carry the intent out, false to drop it.</summary>
    public bool? Confirmed { get; init; }
}

/// <summary>Where a confirmation stands (<see cref="VoiceIntent.Confirmation"/>, <see cref="ConfirmationEndedEvent.Outcome"/>).</summary>
public static class VoiceConfirmations
{
    /// <summary>The question was asked; the intent waits for yes or no.</summary>
    public const string Pending = "pending";

    /// <summary>Yes: the intent is carried out (published on <c>voice/intents</c>).</summary>
    public const string Confirmed = "confirmed";

    /// <summary>No: the intent is dropped.</summary>
    public const string Declined = "declined";

    /// <summary>No answer within the profile's <c>commands.confirmationTimeoutSeconds</c>: the intent is dropped.</summary>
    public const string Expired = "expired";

    /// <summary>Another command came before the answer: the intent is dropped.</summary>
    public const string Replaced = "replaced";
}

/// <summary>The stages that decide a <see cref="VoiceIntent"/> (<see cref="VoiceIntent.Source"/>).</summary>
public static class VoiceIntentSources
{
    /// <summary>A sentence template of the profile matched.</summary>
    public const string Template = "template";

    /// <summary>The voice model chose the intent (or <c>not_understood</c>), constrained to the schema and checked again.</summary>
    public const string Llm = "llm";

    /// <summary>No stage found an intent: the utterance is <c>not_understood</c>.</summary>
    public const string None = "none";
}
