using System.Security.Cryptography;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Profiles;
using Appliance.Voice;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Voice;

/// <summary>
/// The device's voice commands: utterances interpreted against the profile's command schema and each result
/// published on <c>voice/intents</c>. Without a <c>commands</c> section in the profile there is no interpreter and
/// voice commands are unavailable. Thread-safe.
/// </summary>
internal sealed class VoiceCommands(DeviceContext device, MqttConnection mqtt, TimeProvider time, ILogger<VoiceCommands> logger)
{
    private readonly TranscriptionSettings _transcription = device.Profile.Transcription;

    /// <summary>The interpreter of the profile's schema; null when the profile declares no commands.</summary>
    public CommandInterpreter? Interpreter { get; } = device.Profile.Commands is { } schema ? new CommandInterpreter(schema, time) : null;

    /// <summary>The languages utterances may be in; null allows any language code.</summary>
    public IReadOnlyList<string>? Languages => _transcription.Languages;

    /// <summary>The language of an utterance that names none: the profile's forced language, else its first, else English.</summary>
    public string DefaultLanguage => _transcription.Language ?? _transcription.Languages?[0] ?? "en";

    /// <summary>Interprets <paramref name="text"/> with a new utterance id, logs and publishes the result, and returns it.</summary>
    /// <param name="interpreter">The <see cref="Interpreter"/>.</param>
    /// <param name="text">The utterance.</param>
    /// <param name="language">Its language, already checked against <see cref="Languages"/>.</param>
    /// <param name="cancellationToken">Stops the publication.</param>
    public async Task<VoiceIntent> InterpretAsync(CommandInterpreter interpreter, string text, string language, CancellationToken cancellationToken)
    {
        var intent = interpreter.Interpret(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), text, language);
        VoiceLog.Interpreted(logger, intent.UtteranceId, intent.Intent, intent.Source, intent.Reason is { } reason ? ": " + reason : "");
        if (!await mqtt.TryPublishAsync(Channels.VoiceIntents, Topics.VoiceIntents(device.DeviceId), intent, cancellationToken).ConfigureAwait(false))
        {
            VoiceLog.IntentNotPublished(logger, intent.UtteranceId);
        }

        return intent;
    }
}

/// <summary>The voice feature's log messages.</summary>
internal static partial class VoiceLog
{
    [LoggerMessage(7001, LogLevel.Information, "Utterance {UtteranceId}: {Intent} by {Source}{Reason}")]
    public static partial void Interpreted(ILogger logger, string utteranceId, string intent, string source, string reason);

    [LoggerMessage(7002, LogLevel.Warning, "Utterance {UtteranceId}: the intent could not be published on voice/intents (no broker connection)")]
    public static partial void IntentNotPublished(ILogger logger, string utteranceId);
}
