using System.Buffers;
using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Threading.Channels;
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
    [Required]
    [MinLength(1)]
    public string Root { get; set; } = "meetings";

    [Range(1, 10_000)]
    public int ReorderWindow { get; set; } = 64;

    [Range(1, 16 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 16 * 1024;

    [Range(0, 36_500)]
    public int RetentionDays { get; set; } = 7;

    /// <summary>Frames received but not yet journaled; beyond it frames are dropped and counted (the daemon is overloaded).</summary>
    [Range(16, 10_000_000)]
    public int IngestQueueFrames { get; set; } = 65_536;
}

[OptionsValidator]
internal sealed partial class MeetingsOptionsValidator : IValidateOptions<MeetingsOptions>;

/// <summary>
/// Meetings from earbuds over MQTT: <c>meetings/{sessionId}/control</c> (start, stop, abort), <c>audio</c> (one codec
/// frame per message, <c>seq</c> and <c>codec</c> user properties), and back <c>transcript</c>, <c>progress</c> and
/// the retained <c>summary</c>. The MQTT handler only queues a frame; one ingest loop journals what has queued, all
/// sessions at once with one flush per session (group commit), and a frame counts as accepted after its flush. Stops
/// go through the same queue, behind the frames received before them. Sessions open at a crash resume at start-up:
/// the transcript goes on from its last checkpoint and a stop that had arrived is honoured.
/// </summary>
internal sealed class MeetingService : BackgroundService, IMeetingSink
{
    private readonly MqttConnection _mqtt;
    private readonly DeviceContext _device;
    private readonly SpeechHost _speech;
    private readonly LlmHost _llm;
    private readonly TimeProvider _time;
    private readonly ILogger<MeetingService> _logger;
    private readonly Lazy<MeetingSessionManager> _store;
    private readonly ConcurrentDictionary<string, MeetingWorker> _workers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, MeetingSummarizer> _summarizers = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _transcriptionSlot = new(1, 1);
    private readonly ConcurrentDictionary<string, long> _highestSequence = new(StringComparer.Ordinal);
    private readonly Lazy<Channel<IngestItem>> _ingestQueue;
    private Task _ingestLoop = Task.CompletedTask;
    private long _droppedFrames;

    public MeetingService(MqttConnection mqtt, DeviceContext device, SpeechHost speech, LlmHost llm, IOptions<MeetingsOptions> options, TimeProvider time, ILogger<MeetingService> logger)
    {
        _mqtt = mqtt;
        _device = device;
        _speech = speech;
        _llm = llm;
        _time = time;
        _logger = logger;
        // Read on first use, after the host has validated the options (a bad value stops the start with exit code 2).
        _ingestQueue = new(() => Channel.CreateBounded<IngestItem>(new BoundedChannelOptions(options.Value.IngestQueueFrames) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait }));
        _store = new(() =>
        {
            var o = options.Value;
            return new MeetingSessionManager(
                new MeetingStoreOptions { RootDirectory = Path.GetFullPath(o.Root), ReorderWindow = o.ReorderWindow, MaxFrameBytes = o.MaxFrameBytes, Retention = TimeSpan.FromDays(o.RetentionDays) },
                time);
        });
    }

    public MeetingSessionManager Sessions => _store.Value;

    private Channel<IngestItem> Ingest => _ingestQueue.Value;

    /// <summary>Audio frames dropped before any session saw them (unknown or invalid session, or the ingest queue full).</summary>
    public long DroppedFrames => Interlocked.Read(ref _droppedFrames);

    private string Topic(string sessionId, string leaf) => $"{Topics.DevicePrefix(_device.DeviceId)}meetings/{sessionId}/{leaf}";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var prefix = $"{Topics.DevicePrefix(_device.DeviceId)}meetings/+/";
        await _mqtt.SubscribeAsync(prefix + "control", MqttQualityOfServiceLevel.AtLeastOnce, OnControlAsync, cancellationToken).ConfigureAwait(false);
        _ingestLoop = Task.Run(IngestAsync, CancellationToken.None);
        await _mqtt.SubscribeAsync(prefix + "audio", MqttQualityOfServiceLevel.AtMostOnce, OnAudioAsync, cancellationToken).ConfigureAwait(false);
        foreach (var resumed in Sessions.Recovery.Resumed)
        {
            Log.MeetingResumed(_logger, resumed.SessionId, resumed.AcceptedFrames, resumed.StopPending);
            Resume(resumed);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        // Frames already received are journaled before the workers stop.
        Ingest.Writer.TryComplete();
        await _ingestLoop.ConfigureAwait(false);
        foreach (var worker in _workers.Values)
        {
            // The journal holds the audio and the transcript; a restart goes on from the checkpoint.
            await worker.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var sessionId in _summarizers.Keys)
        {
            await DisposeSummarizerAsync(sessionId).ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        if (_store.IsValueCreated)
        {
            _store.Value.Dispose();
        }

        _transcriptionSlot.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), _time);
        do
        {
            foreach (var deleted in Sessions.DeleteExpired())
            {
                await ClearSummaryAsync(deleted).ConfigureAwait(false);
            }
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    public async Task<(string Code, string Message)?> StartSessionAsync(string sessionId, MeetingParameters parameters)
    {
        var result = Sessions.Start(sessionId, parameters);
        switch (result)
        {
            case MeetingResult.Ok:
                StartWorker(sessionId, parameters, TimeSpan.Zero);
                await ProgressAsync(sessionId, new { state = "recording" }).ConfigureAwait(false);
                return null;
            case MeetingResult.AlreadyDone:
                return null;
            default:
                return Failure(result, sessionId);
        }
    }

    /// <summary>Stops a session once the frames received before the stop are journaled (they queue ahead of it).</summary>
    public async Task<((string Code, string Message)? Error, IReadOnlyList<SequenceGap> Gaps)> StopSessionAsync(string sessionId)
    {
        var stop = new IngestItem(sessionId, null, new TaskCompletionSource<StopOutcome>(TaskCreationOptions.RunContinuationsAsynchronously));
        await Ingest.Writer.WriteAsync(stop).ConfigureAwait(false);
        var outcome = await stop.Stopped!.Task.ConfigureAwait(false);
        if (outcome.Result is not (MeetingResult.Ok or MeetingResult.AlreadyDone))
        {
            return (Failure(outcome.Result, sessionId), outcome.Gaps);
        }

        return (null, outcome.Gaps);
    }

    public async Task<(string Code, string Message)?> AbortSessionAsync(string sessionId)
    {
        var result = Sessions.Abort(sessionId);
        if (_workers.TryRemove(sessionId, out var worker))
        {
            await worker.DisposeAsync().ConfigureAwait(false);
        }

        await DisposeSummarizerAsync(sessionId).ConfigureAwait(false);

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

        await DisposeSummarizerAsync(sessionId).ConfigureAwait(false);

        var result = Sessions.Delete(sessionId);
        if (result is MeetingResult.Ok)
        {
            _highestSequence.TryRemove(sessionId, out _);
            await ClearSummaryAsync(sessionId).ConfigureAwait(false);
            return null;
        }

        return Failure(result, sessionId);
    }

    async Task IMeetingSink.TranscriptAsync(string sessionId, TranscriptSegment segment, string language)
    {
        Sessions.AppendTranscript(sessionId, segment);
        Summarizer(sessionId)?.Prepare(segment.Text.Length, () => Sessions.ReadTranscript(sessionId));
        await PublishAsync(Topic(sessionId, "transcript"), new { segmentId = segment.SegmentId, revision = segment.Revision, start = segment.Start.TotalSeconds, end = segment.End.TotalSeconds, text = segment.Text, language }, MqttQualityOfServiceLevel.AtLeastOnce, retain: false).ConfigureAwait(false);
    }

    void IMeetingSink.TranscribedThrough(string sessionId, TimeSpan through) => Sessions.SetTranscribedThrough(sessionId, through);

    async Task IMeetingSink.FailedAsync(string sessionId, Exception error)
    {
        // The audio stays in the journal: a restart tries the meeting again from its last checkpoint.
        Log.MeetingFailed(_logger, sessionId, error);
        _workers.TryRemove(sessionId, out _);
        await DisposeSummarizerAsync(sessionId).ConfigureAwait(false);
        await ProgressAsync(sessionId, new { state = "failed", error = new { code = "internal_error", message = error.Message } }).ConfigureAwait(false);
    }

    /// <summary>Publishes progress: the given fields, the session's state (unless given) and its frame counters.</summary>
    public Task ProgressAsync(string sessionId, object progress)
    {
        var info = Sessions.Get(sessionId);
        var body = JsonSerializer.SerializeToNode(progress, ContractJson.Options)!.AsObject();
        if (info is not null)
        {
            body["state"] ??= StateName(info.State);
            body["transcribedSeconds"] ??= info.TranscribedSeconds;
            body["acceptedFrames"] = info.Counters.Accepted;
            body["duplicates"] = info.Counters.Duplicates;
            body["lostFrames"] = info.Gaps.Sum(g => g.Count);
            body["droppedFrames"] = info.Counters.Late + info.Counters.AfterStop + info.Counters.CodecMismatches + info.Counters.InvalidPayloads;
        }

        body["at"] = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        return PublishAsync(Topic(sessionId, "progress"), body, MqttQualityOfServiceLevel.AtLeastOnce, retain: false);
    }

    async Task IMeetingSink.FinishedAsync(string sessionId, CancellationToken cancellationToken)
    {
        var summary = await SummarizeAsync(sessionId, cancellationToken).ConfigureAwait(false);
        if (summary is null || cancellationToken.IsCancellationRequested)
        {
            return; // shutting down (the stop is on disk: a restart summarizes), aborted or deleted
        }

        Sessions.Complete(sessionId, summary);
        await PublishAsync(Topic(sessionId, "summary"), JsonDocument.Parse(MeetingSummarySchema.Serialize(summary)).RootElement, MqttQualityOfServiceLevel.AtLeastOnce, retain: true).ConfigureAwait(false);
        await ProgressAsync(sessionId, new { state = "completed", source = summary.Source.ToString().ToLowerInvariant() }).ConfigureAwait(false);
        _workers.TryRemove(sessionId, out _);
        Log.MeetingCompleted(_logger, sessionId, summary.Source.ToString());
    }

    /// <summary>
    /// The summary: a map-reduce with the profile's summary model, or the extractive summary (labelled so) when there
    /// is no model, no transcript, or the model gives no valid summary.
    /// </summary>
    private async Task<MeetingSummary?> SummarizeAsync(string sessionId, CancellationToken cancellationToken)
    {
        var info = Sessions.Get(sessionId);
        var transcript = Sessions.ReadTranscript(sessionId);
        if (info is null || transcript is null)
        {
            return null;
        }

        if (transcript.Count > 0 && Summarizer(sessionId) is { } summarizer)
        {
            var outcome = await summarizer.SummarizeAsync(transcript, info.Parameters, info.Gaps, stage => ProgressAsync(sessionId, stage), cancellationToken).ConfigureAwait(false);
            await DisposeSummarizerAsync(sessionId).ConfigureAwait(false);
            if (outcome.Summary is not null)
            {
                return outcome.Summary;
            }

            Log.SummaryFallback(_logger, sessionId, outcome.Problem);
        }

        await ProgressAsync(sessionId, new { state = "summarizing", stage = "extractive" }).ConfigureAwait(false);
        return Sessions.CreateExtractiveSummary(sessionId);
    }

    /// <summary>The session's summarizer, made when the profile's summary model is loaded; null without one.</summary>
    private MeetingSummarizer? Summarizer(string sessionId)
    {
        if (_summarizers.TryGetValue(sessionId, out var existing))
        {
            return existing;
        }

        var model = _device.Profile.Models.SummaryLlm;
        if (model is null || _llm.Service.Models.FirstOrDefault(m => m.Id == model.Id && m.State == LlmModelState.Loaded) is not { } loaded)
        {
            return null;
        }

        var created = new MeetingSummarizer(_llm.Service, model, loaded.ContextTokens ?? model.ContextTokens ?? 4096);
        if (_summarizers.TryAdd(sessionId, created))
        {
            return created;
        }

        _ = created.DisposeAsync().AsTask();
        return _summarizers.GetValueOrDefault(sessionId);
    }

    private async Task DisposeSummarizerAsync(string sessionId)
    {
        if (_summarizers.TryRemove(sessionId, out var summarizer))
        {
            await summarizer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void StartWorker(string sessionId, MeetingParameters parameters, TimeSpan transcribedThrough)
    {
        var reader = Sessions.OpenReleasedAudio(sessionId);
        if (reader is null)
        {
            return;
        }

        _workers[sessionId] = new MeetingWorker(sessionId, parameters, reader, transcribedThrough, () => Sessions.Get(sessionId)?.ReleasedThrough ?? -1, _speech, _transcriptionSlot, this, _time);
    }

    private void Resume(ResumedSession resumed)
    {
        // The worker reads the journal from its start: audio before the transcript checkpoint is only decoded and
        // listened to (cheap), so utterances come out the same as before and only later ones go through Whisper.
        var info = Sessions.Get(resumed.SessionId)!;
        StartWorker(resumed.SessionId, info.Parameters, info.TranscribedThrough);
    }

    /// <summary>
    /// Journals received frames: takes everything queued (up to a batch), offers the frames to the sessions with one
    /// flush per session, wakes the sessions' workers, and handles queued stops in their place in the stream.
    /// </summary>
    private async Task IngestAsync()
    {
        const int MaxBatch = 4096;
        var batch = new List<IncomingFrame>(MaxBatch);
        var results = new FrameResult[MaxBatch];
        var touched = new HashSet<string>(StringComparer.Ordinal);
        while (await Ingest.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && Ingest.Reader.TryRead(out var item))
            {
                if (item.Frame is { } frame)
                {
                    batch.Add(new IncomingFrame(item.SessionId, frame));
                    continue;
                }

                Accept(batch, results, touched);
                var outcome = Sessions.Stop(item.SessionId);
                touched.Add(item.SessionId);
                item.Stopped!.TrySetResult(outcome);
            }

            Accept(batch, results, touched);
            foreach (var sessionId in touched)
            {
                if (_workers.TryGetValue(sessionId, out var worker))
                {
                    worker.Wake();
                }
            }

            touched.Clear();
        }
    }

    private void Accept(List<IncomingFrame> batch, FrameResult[] results, HashSet<string> touched)
    {
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            Sessions.AcceptFrames(batch, results);
            for (var i = 0; i < batch.Count; i++)
            {
                if (results[i] == FrameResult.UnknownSession)
                {
                    Interlocked.Increment(ref _droppedFrames);
                }
                else if (results[i] == FrameResult.Accepted)
                {
                    touched.Add(batch[i].SessionId);
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // Shutting down: the frames were not accepted, and the senders' gaps will say so.
        }

        batch.Clear();
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
                    error = CodecProblem(parameters) is { } problem
                        ? ("invalid_params", problem)
                        : await StartSessionAsync(sessionId, parameters).ConfigureAwait(false);
                    result = new { sessionId, state = StateName(Sessions.Get(sessionId)?.State ?? MeetingState.Open) };
                    break;
                case "stop":
                    // Audio (QoS 0) and control (QoS 1) may overtake each other: wait, off the receive path, for the
                    // frame the client says was its last before stopping, at most StopGrace.
                    long? last = root.TryGetProperty("lastSequence", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetInt64() : null;
                    _ = Task.Run(async () =>
                    {
                        await WaitForSequenceAsync(sessionId, last).ConfigureAwait(false);
                        var (stopError, gaps) = await StopSessionAsync(sessionId).ConfigureAwait(false);
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

    /// <summary>Why the daemon cannot decode this audio, or null: Opus runs at its five rates with one or two channels.</summary>
    private static string? CodecProblem(MeetingParameters parameters) => parameters.Codec switch
    {
        "opus" when parameters.SampleRate is not (8000 or 12000 or 16000 or 24000 or 48000) || parameters.Channels is < 1 or > 2 =>
            "opus needs a sampleRate of 8000, 12000, 16000, 24000 or 48000 and 1 or 2 channels",
        "opus" or "pcm_s16le" => null,
        _ => "codec must be opus or pcm_s16le",
    };

    private static string StateName(MeetingState state) => state switch
    {
        MeetingState.Open => "recording",
        MeetingState.Stopping => "transcribing",
        _ => state.ToString().ToLowerInvariant(),
    };

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
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithUserProperty(UserPropertyNames.Sequence, "0"u8.ToArray().AsMemory())
                .WithUserProperty(UserPropertyNames.Final, "true"u8.ToArray().AsMemory());
            if (message.CorrelationData is { } correlation)
            {
                builder.WithCorrelationData(correlation);
            }

            _ = _mqtt.TryPublishAsync(builder.Build(), CancellationToken.None);
        }
    }

    /// <summary>Queues a frame for the ingest loop; never waits (a full queue drops the frame, counted).</summary>
    private Task OnAudioAsync(MqttApplicationMessage message)
    {
        var sessionId = SessionIdOf(message.Topic);
        var seqText = message.UserProperties?.FirstOrDefault(p => p.Name == "seq")?.ReadValueAsString();
        var codec = message.UserProperties?.FirstOrDefault(p => p.Name == "codec")?.ReadValueAsString() ?? "";
        if (!long.TryParse(seqText, NumberStyles.None, CultureInfo.InvariantCulture, out var seq) || !_workers.ContainsKey(sessionId))
        {
            Interlocked.Increment(ref _droppedFrames);
            return Task.CompletedTask;
        }

        _highestSequence.AddOrUpdate(sessionId, seq, (_, previous) => Math.Max(previous, seq));
        // The payload buffer is MQTTnet's and is reused after this handler returns: the queue keeps a copy.
        var frame = new AudioFrame(seq, codec, _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000, message.Payload.ToArray());
        if (!Ingest.Writer.TryWrite(new IngestItem(sessionId, frame, null)))
        {
            Interlocked.Increment(ref _droppedFrames);
        }

        return Task.CompletedTask;
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

    /// <summary>A received frame, or (with <see cref="Stopped"/>) a stop, in the order they came.</summary>
    private sealed record IngestItem(string SessionId, AudioFrame? Frame, TaskCompletionSource<StopOutcome>? Stopped);

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
