using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Llm;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Speech;
using Appliance.Daemon.Status;
using Appliance.Llm;
using Appliance.Meetings;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Meetings;

/// <summary>The <c>Meetings</c> configuration section.</summary>
public sealed class MeetingsOptions
{
    public const string Section = "Meetings";

    /// <summary>Folder of the session journals (relative to the working directory unless absolute).</summary>
    public string Root { get; set; } = "meetings";

    public int ReorderWindow { get; set; } = 64;

    public int MaxFrameBytes { get; set; } = 16 * 1024;

    public int RetentionDays { get; set; } = 7;
}

/// <summary>
/// Meetings from earbuds over MQTT: <c>meetings/{sessionId}/control</c> (start, stop, abort), <c>audio</c> (one codec
/// frame per message, <c>seq</c> and <c>codec</c> user properties), and back <c>transcript</c>, <c>progress</c> and
/// the retained <c>summary</c>. Every accepted frame is in the session's journal before it counts; sessions open at a
/// crash resume at start-up (the transcript is made again from the journal and a stop that had arrived is honoured).
/// </summary>
internal sealed class MeetingService : BackgroundService, IMeetingSink
{
    private readonly MqttConnection _mqtt;
    private readonly DeviceContext _device;
    private readonly SpeechHost _speech;
    private readonly LlmHost _llm;
    private readonly TimeProvider _time;
    private readonly ILogger<MeetingService> _logger;
    private readonly MeetingSessionManager _sessions;
    private readonly ConcurrentDictionary<string, MeetingWorker> _workers = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _transcriptionSlot = new(1, 1);
    private readonly ConcurrentDictionary<string, long> _highestSequence = new(StringComparer.Ordinal);
    private long _droppedFrames;

    public MeetingService(MqttConnection mqtt, DeviceContext device, SpeechHost speech, LlmHost llm, IOptions<MeetingsOptions> options, TimeProvider time, ILogger<MeetingService> logger)
    {
        _mqtt = mqtt;
        _device = device;
        _speech = speech;
        _llm = llm;
        _time = time;
        _logger = logger;
        var o = options.Value;
        _sessions = new MeetingSessionManager(
            new MeetingStoreOptions { RootDirectory = Path.GetFullPath(o.Root), ReorderWindow = o.ReorderWindow, MaxFrameBytes = o.MaxFrameBytes, Retention = TimeSpan.FromDays(o.RetentionDays) },
            time);
    }

    public MeetingSessionManager Sessions => _sessions;

    /// <summary>Audio frames dropped before any session saw them (unknown or invalid session).</summary>
    public long DroppedFrames => Interlocked.Read(ref _droppedFrames);

    private string Topic(string sessionId, string leaf) => $"{Topics.DevicePrefix(_device.DeviceId)}meetings/{sessionId}/{leaf}";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var prefix = $"{Topics.DevicePrefix(_device.DeviceId)}meetings/+/";
        await _mqtt.SubscribeAsync(prefix + "control", MqttQualityOfServiceLevel.AtLeastOnce, OnControlAsync, cancellationToken).ConfigureAwait(false);
        await _mqtt.SubscribeAsync(prefix + "audio", MqttQualityOfServiceLevel.AtMostOnce, OnAudioAsync, cancellationToken).ConfigureAwait(false);
        foreach (var resumed in _sessions.Recovery.Resumed)
        {
            Log.MeetingResumed(_logger, resumed.SessionId, resumed.AcceptedFrames, resumed.StopPending);
            Resume(resumed);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        foreach (var worker in _workers.Values)
        {
            // The journal holds the audio; a restart makes the transcript again.
            await worker.DisposeAsync().ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        _sessions.Dispose();
        _transcriptionSlot.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), _time);
        do
        {
            foreach (var deleted in _sessions.DeleteExpired())
            {
                await ClearSummaryAsync(deleted).ConfigureAwait(false);
            }
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    public async Task<(string Code, string Message)?> StartSessionAsync(string sessionId, MeetingParameters parameters)
    {
        var result = _sessions.Start(sessionId, parameters);
        switch (result)
        {
            case MeetingResult.Ok:
                _workers[sessionId] = new MeetingWorker(sessionId, parameters, _speech, _transcriptionSlot, this, 0);
                await ProgressAsync(sessionId, new { state = "recording" }).ConfigureAwait(false);
                return null;
            case MeetingResult.AlreadyDone:
                return null;
            default:
                return Failure(result, sessionId);
        }
    }

    public (string Code, string Message)? StopSession(string sessionId, out IReadOnlyList<SequenceGap> gaps)
    {
        var outcome = _sessions.Stop(sessionId);
        gaps = outcome.Gaps;
        if (outcome.Result is not (MeetingResult.Ok or MeetingResult.AlreadyDone))
        {
            return Failure(outcome.Result, sessionId);
        }

        if (_workers.TryGetValue(sessionId, out var worker))
        {
            Feed(worker, outcome.Released, []);
            worker.Complete();
        }

        return null;
    }

    public async Task<(string Code, string Message)?> AbortSessionAsync(string sessionId)
    {
        var result = _sessions.Abort(sessionId);
        if (_workers.TryRemove(sessionId, out var worker))
        {
            await worker.DisposeAsync().ConfigureAwait(false);
        }

        if (result is MeetingResult.Ok or MeetingResult.AlreadyDone)
        {
            await ProgressAsync(sessionId, new { state = "aborted" }).ConfigureAwait(false);
            return null;
        }

        return Failure(result, sessionId);
    }

    public async Task<(string Code, string Message)?> DeleteSessionAsync(string sessionId)
    {
        if (_workers.TryRemove(sessionId, out var worker))
        {
            await worker.DisposeAsync().ConfigureAwait(false);
        }

        var result = _sessions.Delete(sessionId);
        if (result is MeetingResult.Ok)
        {
            await ClearSummaryAsync(sessionId).ConfigureAwait(false);
            return null;
        }

        return Failure(result, sessionId);
    }

    async Task IMeetingSink.TranscriptAsync(string sessionId, TranscriptSegment segment, string language)
    {
        _sessions.AppendTranscript(sessionId, segment);
        await PublishAsync(Topic(sessionId, "transcript"), new { segmentId = segment.SegmentId, revision = segment.Revision, start = segment.Start.TotalSeconds, end = segment.End.TotalSeconds, text = segment.Text, language }, MqttQualityOfServiceLevel.AtLeastOnce, retain: false).ConfigureAwait(false);
    }

    public Task ProgressAsync(string sessionId, object progress)
    {
        var info = _sessions.Get(sessionId);
        var body = JsonSerializer.SerializeToNode(progress, ContractJson.Options)!.AsObject();
        if (info is not null)
        {
            body["acceptedFrames"] = info.Counters.Accepted;
            body["duplicates"] = info.Counters.Duplicates;
            body["gaps"] = info.Gaps.Sum(g => g.Count);
            body["droppedFrames"] = info.Counters.Late + info.Counters.AfterStop + info.Counters.CodecMismatches + info.Counters.InvalidPayloads;
        }

        body["at"] = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        return PublishAsync(Topic(sessionId, "progress"), body, MqttQualityOfServiceLevel.AtLeastOnce, retain: false);
    }

    async Task IMeetingSink.FinishedAsync(string sessionId, CancellationToken cancellationToken)
    {
        await ProgressAsync(sessionId, new { state = "summarizing" }).ConfigureAwait(false);
        var summary = await SummarizeAsync(sessionId, cancellationToken).ConfigureAwait(false);
        if (summary is null)
        {
            return;
        }

        _sessions.Complete(sessionId, summary);
        await PublishAsync(Topic(sessionId, "summary"), JsonDocument.Parse(MeetingSummarySchema.Serialize(summary)).RootElement, MqttQualityOfServiceLevel.AtLeastOnce, retain: true).ConfigureAwait(false);
        await ProgressAsync(sessionId, new { state = "completed", source = summary.Source.ToString().ToLowerInvariant() }).ConfigureAwait(false);
        _workers.TryRemove(sessionId, out _);
        Log.MeetingCompleted(_logger, sessionId, summary.Source.ToString());
    }

    /// <summary>
    /// The summary: map-reduce with the profile's summary model (reasoning dropped, thinking bounded), kept only when the
    /// model's answer is valid against the schema after one repair attempt; otherwise the extractive summary, labelled so.
    /// </summary>
    private async Task<MeetingSummary?> SummarizeAsync(string sessionId, CancellationToken cancellationToken)
    {
        var info = _sessions.Get(sessionId);
        var transcript = _sessions.ReadTranscript(sessionId);
        if (info is null || transcript is null)
        {
            return null;
        }

        var model = _device.Profile.Models.SummaryLlm;
        if (model is not null && _llm.Service.Models.Any(m => m.Id == model.Id && m.State == LlmModelState.Loaded) && transcript.Count > 0)
        {
            var budget = model.ThinkingBudgetTokens ?? 512;
            var context = model.ContextTokens ?? 4096;
            var chunks = TranscriptChunker.Chunk(transcript, Math.Max(256, context / 2), 64, text => (text.Length / 4) + 1);
            var notes = new List<string>();
            foreach (var chunk in chunks)
            {
                notes.Add(await AskAsync(model.Id, $"Summarize this part of a meeting transcript as short notes: key points, decisions, action items with owners and due dates, open questions.\n\n{chunk}", budget, cancellationToken).ConfigureAwait(false) ?? "");
            }

            var reducePrompt = $"From these meeting notes, write the meeting summary as one JSON object with the fields title, summary, keyPoints, decisions, actionItems (owner, task, due), openQuestions, language. Answer with the JSON only.\n\n{string.Join("\n\n", notes)}";
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var answer = await AskAsync(model.Id, attempt == 0 ? reducePrompt : reducePrompt + "\n\nThe previous answer was not valid JSON for that shape. Answer with the JSON object only.", budget, cancellationToken).ConfigureAwait(false);
                if (answer is not null && TryCompleteModelSummary(answer, info, out var summary))
                {
                    return summary;
                }
            }

            Log.SummaryFallback(_logger, sessionId, "the model's answer was not a valid summary after a retry");
        }

        return _sessions.CreateExtractiveSummary(sessionId);
    }

    private async Task<string?> AskAsync(string modelId, string prompt, int thinkingBudget, CancellationToken cancellationToken)
    {
        var answer = new StringBuilder();
        await foreach (var e in _llm.Service.GenerateAsync(new LlmRequest { ModelId = modelId, Messages = [new LlmMessage("user", prompt)], Priority = LlmPriority.Batch, ThinkingBudgetTokens = thinkingBudget, MaxTokens = thinkingBudget + 512, Temperature = 0.6f, TopP = 0.95f }, cancellationToken).ConfigureAwait(false))
        {
            switch (e)
            {
                case LlmAnswerDelta delta:
                    answer.Append(delta.Text);
                    break;
                case LlmFailed:
                    return null;
            }
        }

        return answer.ToString();
    }

    private static bool TryCompleteModelSummary(string answer, MeetingSessionInfo info, out MeetingSummary? summary)
    {
        summary = null;
        var start = answer.IndexOf('{', StringComparison.Ordinal);
        var end = answer.LastIndexOf('}');
        if (start < 0 || end <= start)
        {
            return false;
        }

        try
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(answer[start..(end + 1)])?.AsObject();
            if (node is null)
            {
                return false;
            }

            // What the model cannot know is filled in here; the rest must be the model's and valid.
            node["gaps"] = JsonSerializer.SerializeToNode(info.Gaps, ContractJson.Options);
            node["source"] = "llm";
            node["language"] ??= info.Parameters.LanguageHint ?? "und";
            return MeetingSummarySchema.TryParse(node.ToJsonString(), out summary, out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private void Resume(ResumedSession resumed)
    {
        var info = _sessions.Get(resumed.SessionId)!;
        var worker = new MeetingWorker(resumed.SessionId, info.Parameters, _speech, _transcriptionSlot, this, 0);
        _workers[resumed.SessionId] = worker;
        // The transcript is made again from the journal, in sequence order; segment ids repeat, so clients replace.
        var previous = -1L;
        foreach (var frame in _sessions.ReadJournaledAudio(resumed.SessionId).Where(f => f.Sequence <= info.ReleasedThrough).OrderBy(f => f.Sequence))
        {
            if (frame.Sequence > previous + 1)
            {
                worker.EnqueueGap(frame.Sequence - previous - 1);
            }

            worker.Enqueue(frame);
            previous = frame.Sequence;
        }

        if (resumed.StopPending)
        {
            StopSession(resumed.SessionId, out _);
        }
    }

    private async Task OnControlAsync(MqttApplicationMessage message)
    {
        var sessionId = SessionIdOf(message.Topic);
        (string Code, string Message)? error;
        object? result = null;
        try
        {
            using var body = JsonDocument.Parse(message.Payload);
            var root = body.RootElement;
            var action = root.TryGetProperty("action", out var a) ? a.GetString() : null;
            switch (action)
            {
                case "start":
                    var parameters = new MeetingParameters(
                        root.TryGetProperty("codec", out var codec) ? codec.GetString() ?? "" : "",
                        root.TryGetProperty("sampleRate", out var rate) ? rate.GetInt32() : 0,
                        root.TryGetProperty("channels", out var channels) ? channels.GetInt32() : 1,
                        root.TryGetProperty("language", out var language) ? language.GetString() : null,
                        root.TryGetProperty("participants", out var participants) ? [.. participants.EnumerateArray().Select(p => p.GetString() ?? "")] : []);
                    error = parameters.Codec is "opus" or "pcm_s16le"
                        ? await StartSessionAsync(sessionId, parameters).ConfigureAwait(false)
                        : ("invalid_params", "codec must be opus or pcm_s16le");
                    result = new { sessionId, state = "recording" };
                    break;
                case "stop":
                    // Audio (QoS 0) and control (QoS 1) may overtake each other: wait, off the receive path, for the
                    // frame the client says was its last before stopping, at most StopGrace.
                    long? last = root.TryGetProperty("lastSequence", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetInt64() : null;
                    _ = Task.Run(async () =>
                    {
                        await WaitForSequenceAsync(sessionId, last).ConfigureAwait(false);
                        var stopError = StopSession(sessionId, out var gaps);
                        Reply(message, stopError, new { sessionId, state = "stopping", gaps });
                    });
                    return;
                case "abort":
                    error = await AbortSessionAsync(sessionId).ConfigureAwait(false);
                    result = new { sessionId, state = "aborted" };
                    break;
                default:
                    error = ("invalid_params", "action must be start, stop or abort");
                    break;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            error = (RpcErrorCodes.InvalidJson, $"the control message is not valid: {ex.Message}");
        }

        Reply(message, error, result);
    }

    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    private async Task WaitForSequenceAsync(string sessionId, long? last)
    {
        var waited = TimeSpan.Zero;
        var step = TimeSpan.FromMilliseconds(20);
        while (last is { } target && _highestSequence.GetValueOrDefault(sessionId, -1) < target && waited < StopGrace)
        {
            await Task.Delay(step, _time).ConfigureAwait(false);
            waited += step;
        }
    }

    private void Reply(MqttApplicationMessage message, (string Code, string Message)? error, object? result)
    {
        if (!string.IsNullOrEmpty(message.ResponseTopic))
        {
            var reply = error is { } e
                ? new RpcReply { Seq = 0, Final = true, Error = new RpcError(e.Code, e.Message) }
                : new RpcReply { Seq = 0, Final = true, Result = JsonSerializer.SerializeToElement(result, ContractJson.Options) };
            var builder = new MqttApplicationMessageBuilder()
                .WithTopic(message.ResponseTopic)
                .WithPayload(JsonSerializer.SerializeToUtf8Bytes(reply, ContractJson.Options))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
            if (message.CorrelationData is { } correlation)
            {
                builder.WithCorrelationData(correlation);
            }

            _ = _mqtt.TryPublishAsync(builder.Build(), CancellationToken.None);
        }
    }

    private Task OnAudioAsync(MqttApplicationMessage message)
    {
        var sessionId = SessionIdOf(message.Topic);
        var seqText = message.UserProperties?.FirstOrDefault(p => p.Name == "seq")?.ReadValueAsString();
        var codec = message.UserProperties?.FirstOrDefault(p => p.Name == "codec")?.ReadValueAsString() ?? "";
        if (!long.TryParse(seqText, NumberStyles.None, CultureInfo.InvariantCulture, out var seq) || !_workers.TryGetValue(sessionId, out var worker))
        {
            Interlocked.Increment(ref _droppedFrames);
            return Task.CompletedTask;
        }

        _highestSequence.AddOrUpdate(sessionId, seq, (_, previous) => Math.Max(previous, seq));
        // The payload buffer is MQTTnet's; the manager copies what it journals.
        var acceptance = _sessions.AcceptFrame(sessionId, new AudioFrame(seq, codec, _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000, message.Payload.ToArray()));
        Feed(worker, acceptance.Released, acceptance.NewGaps);
        if (acceptance.Result == FrameResult.Accepted && _sessions.Get(sessionId)?.Counters.Accepted % 250 == 0)
        {
            return ProgressAsync(sessionId, new { state = "recording", heardSeconds = Math.Round(worker.HeardSeconds, 1) });
        }

        return Task.CompletedTask;
    }

    private static void Feed(MeetingWorker worker, IReadOnlyList<AudioFrame> released, IReadOnlyList<SequenceGap> gaps)
    {
        // Released frames come in sequence order; a gap's frames are skipped where they would have been.
        var pending = gaps.OrderBy(g => g.FromSequence).ToList();
        foreach (var frame in released)
        {
            while (pending.Count > 0 && pending[0].FromSequence < frame.Sequence)
            {
                worker.EnqueueGap(pending[0].Count);
                pending.RemoveAt(0);
            }

            worker.Enqueue(frame);
        }

        foreach (var gap in pending)
        {
            worker.EnqueueGap(gap.Count);
        }
    }

    private string SessionIdOf(string topic)
    {
        var prefix = $"{Topics.DevicePrefix(_device.DeviceId)}meetings/";
        var rest = topic[prefix.Length..];
        return rest[..rest.IndexOf('/', StringComparison.Ordinal)];
    }

    private static (string Code, string Message) Failure(MeetingResult result, string sessionId) => result switch
    {
        MeetingResult.UnknownSession => ("unknown_session", $"there is no meeting '{sessionId}'"),
        MeetingResult.InvalidSessionId => ("invalid_params", $"'{sessionId}' is not a valid session id (1-64 letters, digits, '_' or '-')"),
        MeetingResult.InvalidArgument => ("invalid_params", "the start parameters are not valid"),
        MeetingResult.ParametersConflict => ("session_conflict", $"meeting '{sessionId}' is already running with other parameters"),
        MeetingResult.InvalidState => ("invalid_state", $"meeting '{sessionId}' cannot do that in its current state"),
        _ => ("storage_error", $"meeting '{sessionId}' could not be written to disk"),
    };

    private Task<bool> ClearSummaryAsync(string sessionId) =>
        _mqtt.TryPublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topic(sessionId, "summary")).WithRetainFlag(true).WithPayload([]).Build(), CancellationToken.None);

    private Task<bool> PublishAsync<T>(string topic, T body, MqttQualityOfServiceLevel qos, bool retain) =>
        _mqtt.TryPublishJsonAsync(topic, body, qos, retain, CancellationToken.None);

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken token)
    {
        try
        {
            return await timer.WaitForNextTickAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
