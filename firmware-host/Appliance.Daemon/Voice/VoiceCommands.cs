using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Llm;
using Appliance.Profiles;
using Appliance.Speech;
using Appliance.Speech.Whisper;
using Appliance.Voice;
using Microsoft.Extensions.Logging;
using MQTTnet;

namespace Appliance.Daemon.Voice;

/// <summary>
/// The device's voice commands: utterances interpreted against the profile's command schema, by its sentence templates
/// and, for what no template takes, by the profile's voice model while it is loaded. An intent that needs no
/// confirmation is published on <c>voice/intents</c> at once; one the profile marks <c>confirm</c> waits for a yes or
/// no (spoken, or through <c>voice.confirm</c>) announced on <c>voice/events</c>, and only a yes publishes it. So
/// everything on <c>voice/intents</c> is for the appliance to carry out (or <c>not_understood</c>). Each reply is
/// handed to <see cref="SpokenReplies"/>, which speaks it when the profile asks for spoken replies; when the profile's
/// <c>commands.handled</c> asks the appliance to acknowledge what it carries out (<c>voice/handled</c>), the reply of
/// such an intent waits for the acknowledgement and says whether it worked. Without a <c>commands</c> section in the
/// profile there is no interpreter and voice commands are unavailable. Thread-safe.
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
    private readonly HandledSettings? _handled;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<VoiceHandled>> _awaitingHandled = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
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
            _handled = schema.Handled;
            if (_handled is not null)
            {
                mqtt.Subscribe(new MqttSubscription(Topics.VoiceHandled(device.DeviceId), Channels.VoiceHandled.Qos, OnHandledAsync, RetainAsPublished: true));
            }
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
            await PublishEndedAsync(answered, outcome.Problem is null, cancellationToken).ConfigureAwait(false);
            if (outcome.Problem is null)
            {
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
                await PublishEndedAsync(replaced, sayReply: false, cancellationToken).ConfigureAwait(false);
            }

            await PublishEventAsync(new ConfirmationRequestedEvent { UtteranceId = intent.UtteranceId, Intent = intent.Intent, Slots = intent.Slots, Prompt = intent.Reply, ExpiresAt = expiresAt, At = intent.At }, cancellationToken).ConfigureAwait(false);
            _replies.Say(intent);
            return intent;
        }

        if (_turn.Replace()?.Intent is { } dropped)
        {
            await PublishEndedAsync(dropped, sayReply: false, cancellationToken).ConfigureAwait(false);
        }

        await PublishIntentAndReplyAsync(intent, cancellationToken).ConfigureAwait(false);
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

        var (transcript, spokenIn) = await TranscribeAsync(transcriber, samples, language, utteranceId, cancellationToken).ConfigureAwait(false);
        if (transcript.Error is { } error)
        {
            return await FailedAsync(new RpcError(RpcErrorCodes.TranscriptionFailed, error.Message)).ConfigureAwait(false);
        }

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

    /// <summary>
    /// Transcribes what was said while a spoken reply played (16 kHz mono, at interactive priority) and tells whether it
    /// asks the reply to stop (<see cref="CommandInterpreter.IsStop"/>); anything else is logged and dropped, not
    /// interpreted: a command still needs the wake word or the button.
    /// </summary>
    /// <param name="samples">What was heard, at most a few seconds.</param>
    /// <param name="cancellationToken">Stops the transcription.</param>
    /// <returns>True for a stop phrase; false otherwise, and when there are no voice commands or no speech model.</returns>
    public async Task<bool> IsSpokenStopAsync(float[] samples, CancellationToken cancellationToken)
    {
        await _speech.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (Interpreter is not { } interpreter || _speech.Transcriber is not { } transcriber)
        {
            return false;
        }

        var (transcript, language) = await TranscribeAsync(transcriber, samples, _speech.Transcription.Language, NewUtteranceId(), cancellationToken).ConfigureAwait(false);
        var stop = transcript.Error is null && interpreter.IsStop(transcript.Text, language);
        VoiceLog.HeardDuringReply(_logger, transcript.Text, stop ? "a stop phrase" : "not a stop phrase, dropped");
        return stop;
    }

    /// <summary>Transcribes an utterance at interactive priority, ahead of meeting backlog; returns the language it was heard in.</summary>
    private async Task<(TranscriptionResult Transcript, string Language)> TranscribeAsync(WhisperTranscriber transcriber, float[] samples, string? language, string utteranceId, CancellationToken cancellationToken)
    {
        TranscriptionResult transcript;
        using (await _speech.Scheduler.AcquireAsync(utteranceId, TranscriptionPriority.Interactive, cancellationToken).ConfigureAwait(false))
        {
            transcript = await transcriber.TranscribeAsync(samples, new TranscriptionOptions { Settings = _speech.Transcription, Language = language }, cancellationToken).ConfigureAwait(false);
        }

        return (transcript, transcript.Segments.Count > 0 ? transcript.Segments[0].Language : language ?? DefaultLanguage);
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
            await PublishEndedAsync(ended, outcome.Problem is null, cancellationToken).ConfigureAwait(false);
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
        _stopping.Cancel(); // not disposed: replies still waiting for an acknowledgement read its token as they end
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
            await PublishEndedAsync(expired, sayReply: false, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Logs the end of a confirmation and announces it; a confirmed intent is then published and its reply said as
    /// <see cref="PublishIntentAndReplyAsync"/> does, any other's reply is said when <paramref name="sayReply"/> (the
    /// user answered; an expired or replaced one ends without a word).
    /// </summary>
    private async Task PublishEndedAsync(VoiceIntent ended, bool sayReply, CancellationToken cancellationToken)
    {
        VoiceLog.ConfirmationEnded(_logger, ended.UtteranceId, ended.Intent, ended.Confirmation!);
        await PublishEventAsync(new ConfirmationEndedEvent { UtteranceId = ended.UtteranceId, Intent = ended.Intent, Outcome = ended.Confirmation!, At = ended.At }, cancellationToken).ConfigureAwait(false);
        if (ended.Confirmation == VoiceConfirmations.Confirmed)
        {
            await PublishIntentAndReplyAsync(ended, cancellationToken).ConfigureAwait(false);
        }
        else if (sayReply)
        {
            _replies.Say(ended);
        }
    }

    /// <summary>
    /// Publishes <paramref name="intent"/> on <c>voice/intents</c> and has its reply said: at once, or, for an intent
    /// that makes the appliance act while the profile asks for acknowledgements, once the appliance has said on
    /// <c>voice/handled</c> whether it worked, or has not within the time-out (<see cref="ReplyWhenHandledAsync"/>).
    /// </summary>
    private async Task PublishIntentAndReplyAsync(VoiceIntent intent, CancellationToken cancellationToken)
    {
        if (_handled is not { } handled || intent.Intent == CommandSchema.NotUnderstood || Interpreter!.Schema.Find(intent.Intent)?.Answer is not null)
        {
            await PublishIntentAsync(intent, cancellationToken).ConfigureAwait(false);
            _replies.Say(intent);
            return;
        }

        // Waiting before the intent is out: an appliance may acknowledge it at once.
        var acknowledgement = new TaskCompletionSource<VoiceHandled>(TaskCreationOptions.RunContinuationsAsynchronously);
        _awaitingHandled[intent.UtteranceId] = acknowledgement;
        var bargeIns = _replies.BargeIns;
        await PublishIntentAsync(intent, cancellationToken).ConfigureAwait(false);
        _ = ReplyWhenHandledAsync(intent, acknowledgement, handled, bargeIns, _stopping.Token);
    }

    /// <summary>
    /// Waits up to <see cref="HandledSettings.TimeoutSeconds"/> for the appliance's acknowledgement of
    /// <paramref name="intent"/>, announces how it ended (<c>handled</c> on <c>voice/events</c>) and says the reply
    /// that follows from it: the intent's own (or the appliance's message) when it worked, the appliance's message or
    /// the profile's failed reply when it did not, the no-answer reply when nothing came. The reply is not said when
    /// the user spoke over the replies meanwhile (<paramref name="bargeIns"/> no longer <see cref="SpokenReplies.BargeIns"/>).
    /// </summary>
    private async Task ReplyWhenHandledAsync(VoiceIntent intent, TaskCompletionSource<VoiceHandled> acknowledgement, HandledSettings handled, long bargeIns, CancellationToken stopping)
    {
        VoiceHandled? answer;
        try
        {
            answer = await acknowledgement.Task.WaitAsync(TimeSpan.FromSeconds(handled.TimeoutSeconds), _time, stopping).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // An acknowledgement that came as the time ran out still counts; after this, one is late.
            answer = acknowledgement.TrySetCanceled(CancellationToken.None) ? null : acknowledgement.Task.Result;
        }
        catch (OperationCanceledException)
        {
            return; // stopping
        }
        finally
        {
            _awaitingHandled.TryRemove(intent.UtteranceId, out _);
        }

        var message = string.IsNullOrWhiteSpace(answer?.Message) ? null : answer.Message;
        var (outcome, reply) = answer switch
        {
            null => (IntentHandledOutcomes.NoAnswer, TextByLanguage.Pick(handled.NoAnswerReply, intent.Language, HandledSettings.DefaultNoAnswerReply)),
            { Ok: true } => (IntentHandledOutcomes.Done, message ?? intent.Reply),
            _ => (IntentHandledOutcomes.Failed, message ?? TextByLanguage.Pick(handled.FailedReply, intent.Language, HandledSettings.DefaultFailedReply)),
        };
        VoiceLog.Handled(_logger, intent.UtteranceId, intent.Intent, outcome);
        try
        {
            await PublishEventAsync(new IntentHandledEvent { UtteranceId = intent.UtteranceId, Intent = intent.Intent, Outcome = outcome, Reply = reply, At = _time.GetUtcNow() }, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // stopping
        }

        if (_replies.BargeIns == bargeIns)
        {
            _replies.Say(intent with { Reply = reply });
        }
    }

    /// <summary>An acknowledgement on <c>voice/handled</c>: it completes the wait of its intent; anything else is logged and dropped.</summary>
    private Task OnHandledAsync(MqttApplicationMessage message)
    {
        if (HandledProblem(message, out var handled) is { } problem)
        {
            VoiceLog.HandledRefused(_logger, problem);
        }
        else if (!_awaitingHandled.TryRemove(handled!.UtteranceId!, out var waiting) || !waiting.TrySetResult(handled))
        {
            VoiceLog.HandledLate(_logger, handled.UtteranceId!);
        }

        return Task.CompletedTask;
    }

    /// <summary>Why <paramref name="message"/> is not an acknowledgement to act on; null when it is one.</summary>
    internal static string? HandledProblem(MqttApplicationMessage message, out VoiceHandled? handled)
    {
        handled = null;
        if (message.Retain)
        {
            return "a retained acknowledgement is stale and is ignored; publish voice/handled without the retain flag";
        }

        try
        {
            handled = Channels.VoiceHandled.Deserialize(message.Payload);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return $"the payload is not the JSON of an acknowledgement ({e.Message})";
        }

        return handled switch
        {
            null => "the payload is JSON null",
            { UtteranceId: null or "" } => "utteranceId is missing",
            { Ok: null } => "ok (true or false) is missing",
            { Message.Length: > EspeakNgSynthesizer.MaxTextChars } => $"message is {handled.Message.Length} characters; a reply is at most {EspeakNgSynthesizer.MaxTextChars}",
            _ => null,
        };
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
                IntentHandledEvent e => e.UtteranceId,
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

    [LoggerMessage(7007, LogLevel.Information, "Utterance {UtteranceId}: the appliance's acknowledgement of {Intent}: {Outcome}")]
    public static partial void Handled(ILogger logger, string utteranceId, string intent, string outcome);

    [LoggerMessage(7008, LogLevel.Warning, "An acknowledgement on voice/handled was ignored: {Problem}")]
    public static partial void HandledRefused(ILogger logger, string problem);

    [LoggerMessage(7009, LogLevel.Warning, "Utterance {UtteranceId}: its acknowledgement came after the reply was said, or no intent of it waits for one")]
    public static partial void HandledLate(ILogger logger, string utteranceId);

    [LoggerMessage(7010, LogLevel.Information, "Heard '{Text}' while a reply played: {Verdict}")]
    public static partial void HeardDuringReply(ILogger logger, string text, string verdict);
}
