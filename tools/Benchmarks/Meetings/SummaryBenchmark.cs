using System.Diagnostics;
using System.Globalization;
using Appliance.Benchmarks.Llm;
using Appliance.Benchmarks.Speech;
using Appliance.Contracts;
using Appliance.MeetingPlayer;
using Appliance.ModelForge.Llm;
using Appliance.ModelForge.Whisper;

namespace Appliance.Benchmarks.Meetings;

/// <summary>What the summary figure runs.</summary>
/// <param name="CacheDirectory">Cache of forged models (shared with the llm and speech benchmarks).</param>
/// <param name="MeetingLength">Audio streamed as one meeting (the recording looped).</param>
/// <param name="Speed">1 is real time, 4 four times faster, 0 as fast as the connection takes it.</param>
/// <param name="ThinkingBudget">The summary model's thinking budget in the profile.</param>
/// <param name="WorkDirectory">Where the profile and the daemon's working directory (and so its journals) go.</param>
/// <param name="VadModel">Silero VAD graph for the profile, or null for the daemon's energy detector.</param>
/// <param name="SummaryTimeout">How long to wait for the summary after stop.</param>
/// <param name="EndOfTextBias">The forged Whisper's end-of-text logit bias: it sets how much text random weights write per utterance.</param>
/// <param name="VocabularyFrom">A tokenizer.json whose vocabulary and merges the summary model is forged with (the real Qwen one), or null for the forge's small learned one.</param>
/// <param name="PruneLmHead">The summary model's LM head computes the last position's logits only (<see cref="LlmForgeOptions.PruneLmHead"/>), as an export with the GenAI builder's <c>prune_lm_head=true</c>.</param>
/// <param name="KvCache">The summary model's KV cache type (<see cref="LlmForgeOptions.KvCache"/>).</param>
internal sealed record SummarySettings(string CacheDirectory, TimeSpan MeetingLength, double Speed, int ThinkingBudget, string WorkDirectory, string? VadModel, TimeSpan SummaryTimeout, float EndOfTextBias, string? VocabularyFrom, bool PruneLmHead, LlmKvCachePrecision KvCache)
{
    /// <summary>The end-of-text bias that makes the forged Whisper write about as much as a speaker says (14.5: 28 characters per second of the TED recording).</summary>
    public const float EndOfTextBiasDefault = 14.5f;

    public const long Seed = 42;
    public const int ContextTokens = 4096;
    public const string WhisperId = "whisper-base-forged";
    public const string LlmId = "r1-distill-qwen-1.5b-forged";

    public static WhisperPreset Whisper => WhisperPreset.Base;

    public static LlmPreset Llm => LlmPreset.R1DistillQwen15B;
}

/// <summary>One line of the timeline after stop: a run of messages of the same kind, the first and last arrival.</summary>
/// <param name="First">Arrival of the first, from the stop request.</param>
/// <param name="Last">Arrival of the last.</param>
/// <param name="What">The state (and stage) of the progress messages, or what else happened.</param>
/// <param name="Count">Messages in the run.</param>
/// <param name="Detail">The last message's other fields (counters left out).</param>
internal sealed record TimelineEntry(TimeSpan First, TimeSpan Last, string What, int Count, string Detail);

/// <summary>The summary figure.</summary>
/// <param name="AudioLength">Length of the meeting audio.</param>
/// <param name="Speed">Streaming speed.</param>
/// <param name="StreamTime">Wall time of the streaming.</param>
/// <param name="FramesSent">Frames published.</param>
/// <param name="FramesAccepted">Frames the daemon journaled (<c>meetings.get</c>; -1 when unknown).</param>
/// <param name="StopReply">From the stop request to its reply.</param>
/// <param name="StopToSummary">From the stop request to the summary's arrival; null when none came.</param>
/// <param name="LastTranscriptBeforeStop">How long before the stop request the last transcript message before it arrived.</param>
/// <param name="LastTranscriptAfterStop">How long after the stop request the last transcript message arrived; null when none came after.</param>
/// <param name="SummarySource"><c>llm</c> or <c>extractive</c>, as the summary says.</param>
/// <param name="TranscriptSegments">Distinct transcript segments received.</param>
/// <param name="StoredSegments">Segments in the stored transcript (<c>meetings.get</c>; -1 when unknown).</param>
/// <param name="TranscriptCharacters">Characters of text in the distinct transcript segments received.</param>
/// <param name="DaemonPeakRssKib">The daemon's peak resident set since its start (models included).</param>
/// <param name="DaemonRssAtStopKib">The daemon's resident set when stop was sent.</param>
/// <param name="DaemonRssAtEndKib">The daemon's resident set when the summary came (or the wait ended).</param>
/// <param name="FallbackReason">Why the daemon used the extractive summary, from its log; null when it did not say.</param>
/// <param name="Timeline">Progress after stop, and the stop reply and summary, in arrival order.</param>
/// <param name="Vad">The voice activity detector the daemon ran.</param>
/// <param name="ThinkingBudget">The summary model's thinking budget.</param>
/// <param name="EndOfTextBias">The forged Whisper's end-of-text logit bias.</param>
/// <param name="VocabularyFrom">The tokenizer.json the summary model's vocabulary came from, or null for the forge's learned one.</param>
/// <param name="PrunedLmHead">Whether the summary model's LM head computed the last position's logits only.</param>
/// <param name="KvCache">The summary model's KV cache type.</param>
/// <param name="ModelLoad">From the daemon's ready line to both models loaded.</param>
/// <param name="Failure">Why the figure is missing or incomplete, or null.</param>
/// <param name="DaemonProblems">Warnings and errors the daemon logged.</param>
internal sealed record SummaryReport(
    TimeSpan AudioLength,
    double Speed,
    TimeSpan StreamTime,
    long FramesSent,
    long FramesAccepted,
    TimeSpan StopReply,
    TimeSpan? StopToSummary,
    TimeSpan? LastTranscriptBeforeStop,
    TimeSpan? LastTranscriptAfterStop,
    string? SummarySource,
    int TranscriptSegments,
    int StoredSegments,
    long TranscriptCharacters,
    long DaemonPeakRssKib,
    long DaemonRssAtStopKib,
    long DaemonRssAtEndKib,
    string? FallbackReason,
    IReadOnlyList<TimelineEntry> Timeline,
    string Vad,
    int ThinkingBudget,
    float EndOfTextBias,
    string? VocabularyFrom,
    bool PrunedLmHead,
    LlmKvCachePrecision KvCache,
    TimeSpan ModelLoad,
    string? Failure,
    IReadOnlyList<string> DaemonProblems);

/// <summary>
/// Figure 2, time from stop to summary: one meeting of the given length streamed as Opus (in real time by default)
/// into the daemon with a forged whisper-base as its speech model and a forged R1-Distill-Qwen-1.5B as its summary
/// model, then stop; measured from the stop request to the retained summary's arrival, with the progress messages
/// after stop as a timeline.
/// </summary>
internal static class SummaryBenchmark
{
    private const string SessionId = "bench-summary";
    private static readonly TimeSpan ModelLoadLimit = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReportEvery = TimeSpan.FromMinutes(1);

    // Counters every progress message repeats; the timeline shows the rest.
    private static readonly HashSet<string> CounterFields = new(StringComparer.Ordinal) { "state", "stage", "at", "acceptedFrames", "duplicates", "lostFrames", "droppedFrames" };

    public static async Task<SummaryReport> RunAsync(SummarySettings settings, MeetingAudio audio, Action<string> progress, CancellationToken cancellationToken)
    {
        var whisper = SpeechBench.ForgedWhisperBase(settings.CacheDirectory, SummarySettings.Seed, progress, settings.EndOfTextBias);
        var llm = BenchModelCache.PrepareAsForged(SummarySettings.Llm, SummarySettings.Seed, settings.CacheDirectory, progress, new LlmForgeOptions { VocabularyFrom = settings.VocabularyFrom, PruneLmHead = settings.PruneLmHead, KvCache = settings.KvCache });
        var profile = BenchProfiles.WithoutHallucinationGuards(
            BenchProfiles.WithSummaryModels(whisper, SummarySettings.WhisperId, llm, SummarySettings.LlmId, SummarySettings.ContextTokens, settings.ThinkingBudget, settings.VadModel));
        var profilePath = BenchProfiles.Write(profile, settings.WorkDirectory, "summary-profile");
        var samples = audio.Looped(settings.MeetingLength);

        progress($"summary: starting the daemon (profile {profilePath})");
        await using var daemon = await BenchDaemon.StartAsync(profilePath, BenchProfiles.DeviceId(profile), Path.Combine(settings.WorkDirectory, "summary-daemon"), TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        var client = await daemon.ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using (client.ConfigureAwait(false))
        {
            var loading = Stopwatch.StartNew();
            string[] features = settings.VadModel is null ? [ModelFeatures.Asr, ModelFeatures.SummaryLlm] : [ModelFeatures.Asr, ModelFeatures.SummaryLlm, ModelFeatures.Vad];
            var models = await DaemonModels.WaitSettledAsync(client, features, ModelLoadLimit, cancellationToken).ConfigureAwait(false);
            var modelLoad = loading.Elapsed;
            var vad = settings.VadModel is null ? "energy detector (no Silero model given)"
                : models.First(m => m.Feature == ModelFeatures.Vad) is { State: ModelStates.Loaded } ? $"Silero ({Path.GetFileName(settings.VadModel)})"
                : $"energy detector ({models.First(m => m.Feature == ModelFeatures.Vad).Error})";
            if (models.FirstOrDefault(m => m.Feature is ModelFeatures.Asr or ModelFeatures.SummaryLlm && m.State != ModelStates.Loaded) is { } failed)
            {
                return Incomplete($"the daemon could not load {failed.Feature} {failed.Id}: {failed.State} {failed.Error}");
            }

            progress(string.Create(CultureInfo.InvariantCulture, $"summary: models loaded in {modelLoad.TotalSeconds:F1} s; streaming {settings.MeetingLength.TotalMinutes:0.#} min of audio at speed {settings.Speed:0.##}"));
            var streamer = new MeetingStreamer(client);
            var subscription = await streamer.SubscribeAsync(SessionId, cancellationToken).ConfigureAwait(false);
            await using (subscription.ConfigureAwait(false))
            {
                return await MeasureAsync(settings, daemon, client, streamer, subscription, samples, vad, modelLoad, progress, cancellationToken).ConfigureAwait(false);
            }

            SummaryReport Incomplete(string failure) =>
                new(settings.MeetingLength, settings.Speed, TimeSpan.Zero, 0, -1, TimeSpan.Zero, null, null, null, null, 0, -1, 0, daemon.PeakResidentKib(), 0, daemon.ResidentKib(), null, [], vad, settings.ThinkingBudget, settings.EndOfTextBias, settings.VocabularyFrom, settings.PruneLmHead, settings.KvCache, modelLoad, failure, daemon.Problems);
        }
    }

    private static async Task<SummaryReport> MeasureAsync(
        SummarySettings settings,
        BenchDaemon daemon,
        ApplianceClient client,
        MeetingStreamer streamer,
        MeetingSubscription subscription,
        float[] samples,
        string vad,
        TimeSpan modelLoad,
        Action<string> progress,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var stopTicks = long.MaxValue; // the stop request's time on the clock, once sent
        var events = new List<(TimeSpan At, MeetingEvent Event)>();
        var ended = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        string? lastShown = null;
        long rssAtStop = 0;
        using var listening = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var listener = Task.Run(
            async () =>
            {
                await foreach (var meetingEvent in subscription.ReadAllAsync(listening.Token).ConfigureAwait(false))
                {
                    var at = clock.Elapsed;
                    lock (events)
                    {
                        events.Add((at, meetingEvent));
                    }

                    // After stop, each change of state or stage is shown as it comes: a summary can take many minutes.
                    var stop = Volatile.Read(ref stopTicks);
                    if (at.Ticks >= stop && meetingEvent is ProgressEvent change && Describe(change) is var (what, detail) && what != lastShown)
                    {
                        lastShown = what;
                        progress(string.Create(CultureInfo.InvariantCulture, $"summary: +{(at - TimeSpan.FromTicks(stop)).TotalSeconds:F1} s {what} {detail}"));
                    }

                    switch (meetingEvent)
                    {
                        // A summary replayed from an earlier run of the session id would arrive at once, retained.
                        case SummaryEvent { Message.Retain: true } when at.Ticks < Volatile.Read(ref stopTicks):
                            break;
                        case SummaryEvent:
                            ended.TrySetResult(null);
                            break;
                        case ProgressEvent { Progress.State: MeetingPhase.Failed or MeetingPhase.Aborted } p:
                            ended.TrySetResult($"the daemon reports the meeting {p.Progress.State}: {p.Progress.Error?.Message}");
                            break;
                    }
                }
            },
            CancellationToken.None);

        try
        {
            var options = new MeetingStreamOptions
            {
                Codec = MeetingCodec.Opus,
                SampleRate = MeetingAudio.SampleRate,
                FrameMs = MeetingAudio.FrameMs,
                Speed = settings.Speed,
                Participants = ["Ana", "Ben"],
                ControlTimeout = ControlTimeout,
            };
            var start = await streamer.StartAsync(SessionId, options, cancellationToken).ConfigureAwait(false);
            if (start.Error is { } startError)
            {
                return Report(null, null, TimeSpan.Zero, TimeSpan.Zero, $"start refused: {startError.Code}: {startError.Message}");
            }

            var reported = TimeSpan.Zero;
            var counts = await streamer.SendAudioAsync(SessionId, samples, options, new Reporter(c =>
            {
                var heard = c.AudioDuration * ((c.Sent + c.Lost) / (double)Math.Max(1, c.Frames));
                if (heard - reported >= ReportEvery)
                {
                    reported = heard;
                    progress(string.Create(CultureInfo.InvariantCulture, $"summary: streamed {heard.TotalMinutes:F1} of {c.AudioDuration.TotalMinutes:F1} min, {Segments()} transcript segments so far"));
                }
            }), cancellationToken).ConfigureAwait(false);

            var stopAt = clock.Elapsed;
            Volatile.Write(ref stopTicks, stopAt.Ticks);
            rssAtStop = daemon.ResidentKib();
            var stopReply = await streamer.StopAsync(SessionId, counts.LastSequence, ControlTimeout, cancellationToken).ConfigureAwait(false);
            var stopLatency = clock.Elapsed - stopAt;
            if (stopReply.Error is { } stopError)
            {
                return Report(counts, null, stopLatency, counts.Elapsed, $"stop refused: {stopError.Code}: {stopError.Message}");
            }

            progress(string.Create(CultureInfo.InvariantCulture, $"summary: stopped after {counts.Elapsed.TotalSeconds:F1} s of streaming; waiting for the summary (at most {settings.SummaryTimeout.TotalMinutes:0} min)"));
            string? failure;
            try
            {
                failure = await ended.Task.WaitAsync(settings.SummaryTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                failure = $"no summary within {settings.SummaryTimeout.TotalMinutes:0} min after stop";
            }

            var (record, problem) = await MeetingRecord.GetAsync(client, SessionId, cancellationToken).ConfigureAwait(false);
            return Report(counts, record, stopLatency, counts.Elapsed, failure ?? problem);
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ApplianceClientException or TimeoutException)
        {
            // The connection or the daemon went away: say so, with what the daemon said last.
            return Report(null, null, TimeSpan.Zero, clock.Elapsed, $"{ex.GetType().Name}: {ex.Message}; {daemon.ExitDescription ?? "the daemon still runs; its last lines: " + string.Join(" | ", daemon.Tail.TakeLast(8))}");
        }
        finally
        {
            await listening.CancelAsync().ConfigureAwait(false);
            await listener.ConfigureAwait(false);
        }

        int Segments()
        {
            lock (events)
            {
                return events.Select(e => e.Event).OfType<TranscriptEvent>().Select(t => t.Segment.SegmentId).Distinct(StringComparer.Ordinal).Count();
            }
        }

        SummaryReport Report(MeetingStreamCounts? counts, MeetingRecord? record, TimeSpan stopLatency, TimeSpan streamTime, string? failure)
        {
            List<(TimeSpan At, MeetingEvent Event)> seen;
            lock (events)
            {
                seen = [.. events];
            }

            var stop = TimeSpan.FromTicks(Volatile.Read(ref stopTicks));
            var summary = seen.FirstOrDefault(e => e.Event is SummaryEvent && e.At >= stop);
            var transcripts = seen.Where(e => e.Event is TranscriptEvent).ToList();
            var segments = transcripts.Select(e => ((TranscriptEvent)e.Event).Segment).DistinctBy(s => s.SegmentId, StringComparer.Ordinal).ToList();
            var before = stop == TimeSpan.MaxValue ? default : transcripts.LastOrDefault(e => e.At < stop);
            var after = transcripts.LastOrDefault(e => e.At >= stop);
            return new SummaryReport(
                settings.MeetingLength,
                settings.Speed,
                streamTime,
                counts?.Sent ?? 0,
                record?.Accepted ?? -1,
                stopLatency,
                summary.Event is null ? null : summary.At - stop,
                before.Event is null ? null : stop - before.At,
                after.Event is null ? null : after.At - stop,
                (summary.Event as SummaryEvent) is { } summaryEvent ? ContractJson.WireName(summaryEvent.Summary.Source) : null,
                segments.Count,
                record?.TranscriptSegments ?? -1,
                segments.Sum(s => (long)s.Text.Length),
                daemon.HasExited ? 0 : daemon.PeakResidentKib(),
                rssAtStop,
                daemon.ResidentKib(),
                FallbackReason(daemon.Problems),
                stop == TimeSpan.MaxValue ? [] : Timeline(seen, stop, stopLatency),
                vad,
                settings.ThinkingBudget,
                settings.EndOfTextBias,
                settings.VocabularyFrom,
                settings.PruneLmHead,
                settings.KvCache,
                modelLoad,
                failure,
                daemon.Problems);
        }
    }

    /// <summary>The reason in the daemon's "extractive summary instead of the model's (…)" warning, if it logged one.</summary>
    private static string? FallbackReason(IReadOnlyList<string> problems)
    {
        const string Marker = "extractive summary instead of the model's";
        var line = problems.LastOrDefault(l => l.Contains(Marker, StringComparison.Ordinal));
        return line?[(line.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length)..].Trim().TrimStart('(').TrimEnd(')');
    }

    /// <summary>Progress after the stop request, runs of the same state and stage merged, with the stop reply and the summary.</summary>
    internal static IReadOnlyList<TimelineEntry> Timeline(IReadOnlyList<(TimeSpan At, MeetingEvent Event)> events, TimeSpan stop, TimeSpan stopReply)
    {
        var timeline = new List<TimelineEntry> { new(stopReply, stopReply, "stop reply", 1, "") };
        foreach (var (at, meetingEvent) in events.Where(e => e.At >= stop))
        {
            var since = at - stop;
            var (what, detail) = meetingEvent switch
            {
                ProgressEvent p => Describe(p),
                SummaryEvent s => ("summary", $"source={ContractJson.WireName(s.Summary.Source)}"),
                MalformedEvent m => ("unreadable message", $"{m.Message.Topic}: {m.Reason}"),
                _ => (null, ""),
            };
            if (what is null)
            {
                continue;
            }

            if (timeline.Count > 1 && timeline[^1].What == what)
            {
                timeline[^1] = timeline[^1] with { Last = since, Count = timeline[^1].Count + 1, Detail = detail };
            }
            else
            {
                timeline.Add(new TimelineEntry(since, since, what, 1, detail));
            }
        }

        return [.. timeline.OrderBy(e => e.First)];
    }

    private static (string What, string Detail) Describe(ProgressEvent progress)
    {
        var body = ContractJson.ToElement(progress.Progress);
        var state = body.GetProperty("state").GetString();
        var what = body.TryGetProperty("stage", out var stage) ? $"{state} / {stage.GetString()}" : state;
        var detail = string.Join(", ", body.EnumerateObject().Where(p => !CounterFields.Contains(p.Name)).Select(p => $"{p.Name}={p.Value.GetRawText()}"));
        return ($"progress {what}", detail);
    }

    /// <summary>Reports on the sending thread (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class Reporter(Action<MeetingStreamCounts> report) : IProgress<MeetingStreamCounts>
    {
        public void Report(MeetingStreamCounts value) => report(value);
    }
}
