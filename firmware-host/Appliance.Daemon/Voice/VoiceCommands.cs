using System.Security.Cryptography;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Llm;
using Appliance.Profiles;
using Appliance.Speech;
using Appliance.Speech.Whisper;
using Appliance.Voice;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Voice;

/// <summary>
/// The device's voice commands: utterances interpreted against the profile's command schema, by its sentence templates
/// and, for what no template takes, by the profile's voice model while it is loaded. An intent that needs no
/// confirmation is published on <c>voice/intents</c> at once; one the profile marks <c>confirm</c> waits for a yes or
/// no (spoken, or through <c>voice.confirm</c>) announced on <c>voice/events</c>, and only a yes publishes it. So
/// everything on <c>voice/intents</c> is for the appliance to carry out (or <c>not_understood</c>). Each reply is
/// handed to <see cref="SpokenReplies"/>, which speaks it when the profile asks for spoken replies. Without a
/// <c>commands</c> section in the profile there is no interpreter and voice commands are unavailable. Thread-safe.
/// </summary>
internal sealed class VoiceCommands : IDisposable
{
    private readonly MqttConnection _mqtt;
    private readonly DeviceContext _device;
    private readonly TimeProvider _time;
    private readonly ILogger<VoiceCommands> _logger;
    private readonly TranscriptionSettings _transcription;
    private readonly ConfirmationTurn? _turn;
    private readonly LlmService _llm;
    private readonly SpeechModels _speech;
    private readonly SpokenReplies _replies;
    private readonly Lock _timerGate = new();
    private ITimer? _expiry;
    private VoiceModelStage? _modelStage;

    public VoiceCommands(DeviceContext device, MqttConnection mqtt, LlmService llm, SpeechModels speech, Hardware.SensorReadings readings, SpokenReplies replies, TimeProvider time, ILogger<VoiceCommands> logger)
    {
        _replies = replies;
        _device = device;
        _llm = llm;
        _speech = speech;
        _mqtt = mqtt;
        _time = time;
        _logger = logger;
        _transcription = device.Profile.Transcription;
        if (device.Profile.Commands is { } schema)
        {
            Interpreter = new CommandInterpreter(schema, time, readings);
            _turn = new ConfirmationTurn(Interpreter, time);
        }
    }

    /// <summary>The interpreter of the profile's schema; null when the profile declares no commands.</summary>
    public CommandInterpreter? Interpreter { get; }

    /// <summary>The languages utterances may be in; null allows any language code.</summary>
    public IReadOnlyList<string>? Languages => _transcription.Languages;

    /// <summary>The language of an utterance that names none: the profile's forced language, else its first, else English.</summary>
    public string DefaultLanguage => _transcription.Language ?? _transcription.Languages?[0] ?? "en";

    /// <summary>
    /// Interprets <paramref name="text"/>: a yes or no while a command waits for its confirmation answers it; anything
    /// else is a new utterance (replacing a waiting command). Logs and publishes the result, and returns it.
    /// </summary>
    /// <param name="text">The utterance.</param>
    /// <param name="language">Its language, already checked against <see cref="Languages"/>.</param>
    /// <param name="cancellationToken">Stops the publications.</param>
    /// <param name="utteranceId">The utterance's id when it already has one (a spoken command's, given at its transcript); null makes one.</param>
    /// <param name="interpretOnly">
    /// Interpret and return only (a request from the fleet topic): no confirmation is answered, begun or replaced, and
    /// nothing is published or spoken; a command marked confirm comes back pending for the caller to confirm.
    /// </param>
    /// <exception cref="InvalidOperationException">The profile declares no commands (check <see cref="Interpreter"/> first).</exception>
    public async Task<VoiceIntent> InterpretAsync(string text, string language, CancellationToken cancellationToken, string? utteranceId = null, bool interpretOnly = false)
    {
        var interpreter = Interpreter ?? throw new InvalidOperationException("The profile declares no voice commands.");
        if (interpretOnly)
        {
            // A fleet's request: any hub may serve it, and a retry may reach another, so it changes nothing here.
            var interpreted = await interpreter.InterpretAsync(utteranceId ?? NewUtteranceId(), text, language, ModelStage(), cancellationToken).ConfigureAwait(false);
            VoiceLog.Interpreted(_logger, interpreted.UtteranceId, interpreted.Intent, interpreted.Source, interpreted.Reason is { } why ? ": " + why : "");
            return interpreted;
        }

        if (_turn!.IsWaiting && CommandInterpreter.YesOrNo(text, language) is { } answer && _turn.Answer(null, answer) is { Intent: { } answered } outcome)
        {
            await PublishEndedAsync(answered, cancellationToken).ConfigureAwait(false);
            if (outcome.Problem is null)
            {
                _replies.Say(answered);
                return answered;
            }
        }

        var intent = await interpreter.InterpretAsync(utteranceId ?? NewUtteranceId(), text, language, ModelStage(), cancellationToken).ConfigureAwait(false);
        VoiceLog.Interpreted(_logger, intent.UtteranceId, intent.Intent, intent.Source, intent.Reason is { } reason ? ": " + reason : "");
        if (intent.Confirmation == VoiceConfirmations.Pending)
        {
            ConfirmationOutcome? replacedOutcome;
            DateTimeOffset expiresAt;
            lock (_timerGate)
            {
                // One step: the expiry timer always belongs to the command the turn holds, however requests interleave.
                replacedOutcome = _turn.Begin(intent, out expiresAt);
                StartExpiryLocked(intent.UtteranceId);
            }

            if (replacedOutcome?.Intent is { } replaced)
            {
                await PublishEndedAsync(replaced, cancellationToken).ConfigureAwait(false);
            }

            await PublishEventAsync(new ConfirmationRequestedEvent { UtteranceId = intent.UtteranceId, Intent = intent.Intent, Slots = intent.Slots, Prompt = intent.Reply, ExpiresAt = expiresAt, At = intent.At }, cancellationToken).ConfigureAwait(false);
            _replies.Say(intent);
            return intent;
        }

        if (_turn.Replace()?.Intent is { } dropped)
        {
            await PublishEndedAsync(dropped, cancellationToken).ConfigureAwait(false);
        }

        await PublishIntentAsync(intent, cancellationToken).ConfigureAwait(false);
        _replies.Say(intent);
        return intent;
    }

    /// <summary>
    /// Transcribes a spoken command (16 kHz mono, one utterance) with Whisper, at interactive priority ahead of meeting
    /// backlog, announces the transcript on <c>voice/events</c>, and interprets it as <see cref="InterpretAsync"/> does.
    /// </summary>
    /// <param name="samples">The utterance.</param>
    /// <param name="language">The language spoken, already checked; null detects it among the profile's.</param>
    /// <param name="cancellationToken">Stops the transcription and the interpretation.</param>
    /// <param name="interpretOnly">Transcribe and interpret only, announcing nothing (a request from the fleet topic; see <see cref="InterpretAsync"/>).</param>
    /// <returns>The intent; or, when there is no speech model or the transcription failed, the error (also announced on <c>voice/events</c>).</returns>
    /// <exception cref="InvalidOperationException">The profile declares no commands (check <see cref="Interpreter"/> first).</exception>
    public async Task<(VoiceIntent? Intent, RpcError? Error)> InterpretSpokenAsync(float[] samples, string? language, CancellationToken cancellationToken, bool interpretOnly = false)
    {
        _ = Interpreter ?? throw new InvalidOperationException("The profile declares no voice commands.");
        var utteranceId = NewUtteranceId();
        await _speech.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_speech.Transcriber is not { } transcriber)
        {
            return await FailedAsync(new RpcError(RpcErrorCodes.Unavailable, $"no speech recognition model: {_speech.TranscriberProblem}")).ConfigureAwait(false);
        }

        TranscriptionResult transcript;
        using (await _speech.Scheduler.AcquireAsync(utteranceId, TranscriptionPriority.Interactive, cancellationToken).ConfigureAwait(false))
        {
            transcript = await transcriber.TranscribeAsync(samples, new TranscriptionOptions { Settings = _speech.Transcription, Language = language }, cancellationToken).ConfigureAwait(false);
        }

        if (transcript.Error is { } error)
        {
            return await FailedAsync(new RpcError(RpcErrorCodes.TranscriptionFailed, error.Message)).ConfigureAwait(false);
        }

        var spokenIn = transcript.Segments.Count > 0 ? transcript.Segments[0].Language : language ?? DefaultLanguage;
        if (!interpretOnly)
        {
            await PublishEventAsync(new UtteranceTranscribedEvent { UtteranceId = utteranceId, Text = transcript.Text, Language = spokenIn, DurationSeconds = Math.Round(samples.Length / 16000.0, 3), At = _time.GetUtcNow() }, cancellationToken).ConfigureAwait(false);
        }

        return (await InterpretAsync(transcript.Text, spokenIn, cancellationToken, utteranceId, interpretOnly).ConfigureAwait(false), null);

        async Task<(VoiceIntent?, RpcError?)> FailedAsync(RpcError failure)
        {
            VoiceLog.SpokenCommandFailed(_logger, utteranceId, failure.Message);
            if (!interpretOnly)
            {
                await PublishEventAsync(new VoiceErrorEvent { UtteranceId = utteranceId, Code = failure.Code, Message = failure.Message, At = _time.GetUtcNow() }, cancellationToken).ConfigureAwait(false);
            }

            return (null, failure);
        }
    }

    /// <summary>Answers the confirmation of <paramref name="utteranceId"/>; a yes publishes its intent.</summary>
    /// <returns>The intent as its confirmation ended, or why nothing waited for that answer.</returns>
    public async Task<ConfirmationOutcome> ConfirmAsync(string utteranceId, bool confirmed, CancellationToken cancellationToken)
    {
        if (_turn is null)
        {
            return new(null, "this device takes no voice commands");
        }

        var outcome = _turn.Answer(utteranceId, confirmed);
        if (outcome.Intent is { } ended)
        {
            await PublishEndedAsync(ended, cancellationToken).ConfigureAwait(false);
            if (outcome.Problem is null)
            {
                _replies.Say(ended);
            }
        }

        return outcome;
    }

    private static string NewUtteranceId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>The voice model stage while the profile's voice model is loaded; null otherwise (templates alone).</summary>
    private VoiceModelStage? ModelStage()
    {
        if (_device.Profile.Models.VoiceLlm is not { } spec || !_llm.Models.Any(m => m.Id == spec.Id && m.State == LlmModelState.Loaded))
        {
            return null;
        }

        return _modelStage ??= new VoiceModelStage(new LlmChatClient(_llm, spec.Id, LlmPriority.Interactive), Interpreter!.Schema);
    }

    public void Dispose()
    {
        lock (_timerGate)
        {
            _expiry?.Dispose();
            _expiry = null;
        }
    }

    private void StartExpiryLocked(string utteranceId)
    {
        _expiry?.Dispose();
        _expiry = _time.CreateTimer(_ => _ = ExpireAsync(utteranceId), null, _turn!.Timeout, Timeout.InfiniteTimeSpan);
    }

    private async Task ExpireAsync(string utteranceId)
    {
        if (_turn!.Expire(utteranceId)?.Intent is { } expired)
        {
            await PublishEndedAsync(expired, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Logs the end of a confirmation, announces it, and publishes the intent when it was confirmed.</summary>
    private async Task PublishEndedAsync(VoiceIntent ended, CancellationToken cancellationToken)
    {
        VoiceLog.ConfirmationEnded(_logger, ended.UtteranceId, ended.Intent, ended.Confirmation!);
        await PublishEventAsync(new ConfirmationEndedEvent { UtteranceId = ended.UtteranceId, Intent = ended.Intent, Outcome = ended.Confirmation!, At = ended.At }, cancellationToken).ConfigureAwait(false);
        if (ended.Confirmation == VoiceConfirmations.Confirmed)
        {
            await PublishIntentAsync(ended, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task PublishIntentAsync(VoiceIntent intent, CancellationToken cancellationToken)
    {
        if (!await _mqtt.TryPublishAsync(Channels.VoiceIntents, Topics.VoiceIntents(_device.DeviceId), intent, cancellationToken).ConfigureAwait(false))
        {
            VoiceLog.NotPublished(_logger, intent.UtteranceId, "voice/intents");
        }
    }

    private async Task PublishEventAsync(VoiceEvent body, CancellationToken cancellationToken)
    {
        if (!await _mqtt.TryPublishAsync(Channels.VoiceEvents, Topics.VoiceEvents(_device.DeviceId), body, cancellationToken).ConfigureAwait(false))
        {
            VoiceLog.NotPublished(_logger, body switch
            {
                ConfirmationRequestedEvent e => e.UtteranceId,
                ConfirmationEndedEvent e => e.UtteranceId,
                UtteranceTranscribedEvent e => e.UtteranceId,
                VoiceErrorEvent e => e.UtteranceId,
                _ => "",
            }, "voice/events");
        }
    }
}

/// <summary>The voice feature's log messages.</summary>
internal static partial class VoiceLog
{
    [LoggerMessage(7001, LogLevel.Information, "Utterance {UtteranceId}: {Intent} by {Source}{Reason}")]
    public static partial void Interpreted(ILogger logger, string utteranceId, string intent, string source, string reason);

    [LoggerMessage(7002, LogLevel.Warning, "Utterance {UtteranceId}: not published on {Channel} (no broker connection)")]
    public static partial void NotPublished(ILogger logger, string utteranceId, string channel);

    [LoggerMessage(7003, LogLevel.Information, "Utterance {UtteranceId}: the confirmation of {Intent} ended {Outcome}")]
    public static partial void ConfirmationEnded(ILogger logger, string utteranceId, string intent, string outcome);

    [LoggerMessage(7004, LogLevel.Warning, "Utterance {UtteranceId}: the spoken command was not handled: {Problem}")]
    public static partial void SpokenCommandFailed(ILogger logger, string utteranceId, string problem);

    [LoggerMessage(7005, LogLevel.Warning, "Utterance {UtteranceId}: the reply was not spoken: {Problem}")]
    public static partial void ReplyNotSpoken(ILogger logger, string utteranceId, string problem);

    [LoggerMessage(7006, LogLevel.Information, "The reply playing was cut off: the user spoke again")]
    public static partial void BargeIn(ILogger logger);
}
