using System.Collections.Concurrent;
using Appliance.Inference;
using Appliance.Llm;
using Appliance.Meetings.Pipeline;
using Appliance.ModelForge.Llm;
using Appliance.ModelForge.Whisper;
using Appliance.Profiles;
using Appliance.Speech;
using Appliance.Tests.Common;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Meetings.Tests;

/// <summary>A forged tiny Whisper, a forged tiny R1-style model with a 2048-token context, and spoken audio, made once for the class.</summary>
public sealed class PipelineModels : IDisposable
{
    public PipelineModels()
    {
        Root = Path.Combine(Path.GetTempPath(), "meeting-pipeline-" + Guid.NewGuid().ToString("N"));
        Whisper = Path.Combine(Root, "whisper-tiny");
        WhisperForge.Write(WhisperPreset.Tiny, 7, Whisper);
        SummaryLlm = Path.Combine(Root, "summary-llm");
        LlmForge.Write(LlmPreset.Tiny with { Name = "tiny-2k", ContextLength = 2048 }, 42, SummaryLlm);
        Frames = SpokenAudio.PcmFrames(SpokenAudio.Repeated(Root, "Ana will send the budget by Friday. We decided to ship the new fridge line in March.", 8));
    }

    public string Root { get; }

    public string Whisper { get; }

    public string SummaryLlm { get; }

    /// <summary>8 s of speech as 20 ms frames of 16 kHz PCM.</summary>
    public IReadOnlyList<byte[]> Frames { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>The meeting pipeline without a daemon: store, ingest, transcriber and summarizer on real models, events recorded as the transport would get them.</summary>
public sealed class PipelineTests(PipelineModels models) : IClassFixture<PipelineModels>
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private static readonly int Thinking = SummaryModel.ThinkingBudgetFor(32, 2048);

    [Fact]
    public async Task A_meeting_goes_from_frames_to_a_stored_transcript_and_a_published_summary_with_its_gap()
    {
        await using var rig = PipelineRig.Start(models);
        Assert.Equal(MeetingResult.Ok, await rig.Pipeline.StartAsync("m1", new MeetingParameters(AudioCodecs.PcmS16LE, 16000, 1, "en", ["Ana"]), default));
        for (var seq = 0; seq < models.Frames.Count; seq++)
        {
            if (seq != 10)
            {
                Assert.True(rig.Ingest.TryEnqueue("m1", new AudioFrame(seq, AudioCodecs.PcmS16LE, 0, models.Frames[seq])));
            }
        }

        var stopped = await rig.Pipeline.StopAsync("m1", models.Frames.Count - 1, default);
        Assert.Equal(MeetingResult.Ok, stopped.Result);
        Assert.Equal(new SequenceGap(10, 1), Assert.Single(stopped.Gaps));
        var summary = await rig.Events.Summary("m1").WaitAsync(Limit);

        Assert.Equal(SummarySource.Extractive, summary.Source);
        Assert.Equal(new SequenceGap(10, 1), Assert.Single(summary.Gaps));
        Assert.Equal(MeetingState.Completed, rig.Store.Get("m1")!.State);
        var stored = rig.Store.ReadTranscript("m1")!;
        Assert.NotEmpty(stored);
        Assert.All(stored, s => Assert.Matches("^t[0-9]{9}-[0-9]+$", s.SegmentId));
        Assert.Equal(stored.Select(s => s.SegmentId).Order(StringComparer.Ordinal), rig.Events.Transcript("m1").Select(s => s.SegmentId).Order(StringComparer.Ordinal));
        var progress = rig.Events.Progress("m1");
        Assert.Equal(MeetingPhase.Recording, progress[0].State);
        Assert.Equal((MeetingPhase.Completed, SummarySource.Extractive), (progress[^1].State, progress[^1].Source));
        Assert.Contains(progress, p => p.PercentTranscribed == 100);
        Assert.Equal(models.Frames.Count - 1, progress[^1].AcceptedFrames);
        Assert.Equal(1, progress[^1].LostFrames);
    }

    [Fact]
    public async Task A_meeting_whose_audio_cannot_be_decoded_fails_is_reported_and_keeps_its_audio()
    {
        await using var rig = PipelineRig.Start(models);
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        rig.Pipeline.FailuresChanged += () => failed.TrySetResult();

        // The store takes up to 8 channels; the Opus decoder two, so the run fails on its first step.
        Assert.Equal(MeetingResult.Ok, await rig.Pipeline.StartAsync("m2", new MeetingParameters(AudioCodecs.Opus, 48000, 3, "en", []), default));
        await failed.Task.WaitAsync(Limit);

        Assert.Contains("m2", rig.Pipeline.Failures.Keys);
        var last = rig.Events.Progress("m2")[^1];
        Assert.Equal((MeetingPhase.Failed, RpcErrorCodes.Internal), (last.State, last.Error!.Code));
        Assert.Equal(MeetingState.Open, rig.Store.Get("m2")!.State);
        Assert.Equal(MeetingResult.Ok, await rig.Pipeline.DeleteAsync("m2", default));
        Assert.Empty(rig.Pipeline.Failures);
    }

    [Fact]
    public async Task Abort_ends_the_run_without_a_summary_and_delete_clears_what_was_published()
    {
        await using var rig = PipelineRig.Start(models);
        Assert.Equal(MeetingResult.Ok, await rig.Pipeline.StartAsync("m3", new MeetingParameters(AudioCodecs.PcmS16LE, 16000, 1, "en", []), default));
        for (var seq = 0; seq < 50; seq++)
        {
            rig.Ingest.TryEnqueue("m3", new AudioFrame(seq, AudioCodecs.PcmS16LE, 0, models.Frames[seq]));
        }

        Assert.Equal(MeetingResult.Ok, await rig.Pipeline.AbortAsync("m3", default));
        Assert.Equal(MeetingPhase.Aborted, rig.Events.Progress("m3")[^1].State);
        Assert.Equal(MeetingState.Aborted, rig.Store.Get("m3")!.State);
        Assert.Equal(MeetingResult.Ok, await rig.Pipeline.DeleteAsync("m3", default));
        Assert.False(rig.Events.Summary("m3").IsCompleted);
        Assert.Contains("m3", rig.Events.Deleted);
        Assert.Null(rig.Store.Get("m3"));
    }

    [Fact]
    public async Task After_a_restart_the_meeting_goes_on_from_its_checkpoint_and_no_utterance_is_transcribed_twice()
    {
        var parameters = new MeetingParameters(AudioCodecs.PcmS16LE, 16000, 1, "en", []);
        var half = models.Frames.Count / 2;
        string root;
        RecordedEvents published;
        await using (var first = PipelineRig.Start(models))
        {
            (root, published) = (first.Root, first.Events);
            Assert.Equal(MeetingResult.Ok, await first.Pipeline.StartAsync("m6", parameters, default));
            for (var seq = 0; seq < half; seq++)
            {
                Assert.True(first.Ingest.TryEnqueue("m6", new AudioFrame(seq, AudioCodecs.PcmS16LE, 0, models.Frames[seq])));
            }

            await first.Events.FirstSegment("m6").WaitAsync(Limit);
        } // the daemon stops: the run is cancelled wherever it is

        var before = published.Transcript("m6").Select(s => s.SegmentId).ToList();

        await using var second = PipelineRig.Start(models, root);
        second.Pipeline.ResumeAll();
        for (var seq = half; seq < models.Frames.Count; seq++)
        {
            Assert.True(second.Ingest.TryEnqueue("m6", new AudioFrame(seq, AudioCodecs.PcmS16LE, 0, models.Frames[seq])));
        }

        Assert.Equal(MeetingResult.Ok, (await second.Pipeline.StopAsync("m6", models.Frames.Count - 1, default)).Result);
        await second.Events.Summary("m6").WaitAsync(Limit);

        var after = second.Events.Transcript("m6").Select(s => s.SegmentId).ToList();
        Assert.NotEmpty(after);
        Assert.Empty(after.Intersect(before, StringComparer.Ordinal));
        Assert.Equal(before.Concat(after).Order(StringComparer.Ordinal), second.Store.ReadTranscript("m6")!.Select(s => s.SegmentId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_abort_that_lands_while_the_summary_is_being_made_wins_without_a_failure()
    {
        await using var rig = PipelineRig.Start(models);
        Assert.Equal(MeetingResult.Ok, await rig.Pipeline.StartAsync("m5", new MeetingParameters(AudioCodecs.PcmS16LE, 16000, 1, "en", []), default));
        Assert.True(rig.Ingest.TryEnqueue("m5", new AudioFrame(0, AudioCodecs.PcmS16LE, 0, models.Frames[0])));
        var summarizing = rig.Events.HoldProgress("m5", p => p.Stage == SummaryStage.Extractive);
        Assert.Equal(MeetingResult.Ok, (await rig.Pipeline.StopAsync("m5", 0, default)).Result);
        await summarizing.Reached.WaitAsync(Limit);

        // The run has its summary in hand and is about to store it when the abort comes.
        var abort = rig.Pipeline.AbortAsync("m5", default);
        Assert.Equal(MeetingState.Aborted, rig.Store.Get("m5")!.State);
        summarizing.Release();

        Assert.Equal(MeetingResult.Ok, await abort.WaitAsync(Limit));
        Assert.Empty(rig.Pipeline.Failures);
        Assert.DoesNotContain(rig.Events.Progress("m5"), p => p.State == MeetingPhase.Failed);
        Assert.Equal(MeetingPhase.Aborted, rig.Events.Progress("m5")[^1].State);
        Assert.False(rig.Events.Summary("m5").IsCompleted);
        Assert.Equal(MeetingState.Aborted, rig.Store.Get("m5")!.State);
    }

    [Fact]
    public async Task The_summary_model_maps_every_complete_chunk_ahead_and_reduces_under_the_schema()
    {
        await using var llm = await SummaryLlmAsync();
        using var chat = SummaryChat(llm);
        var model = SummaryModelOf(llm, chat);
        var transcript = Segments(60);
        await using var summarizer = new MeetingSummarizer(model, "m4", NullLogger.Instance);

        // The transcript comes in a segment at a time, each pass ending before the next segment: the forged tokenizer
        // gets far fewer characters per token than English text in a real one, and the passes must keep up with it.
        for (var i = 1; i <= transcript.Count; i++)
        {
            var sofar = transcript.Take(i).ToList();
            summarizer.Prepare(sofar[^1].Text.Length, () => sofar);
            await summarizer.Preparing.WaitAsync(Limit);
        }

        var (summary, problem, stages) = await SummarizeAsync(summarizer, transcript);

        Assert.True(summary is not null, problem);
        Assert.Equal((SummarySource.Llm, "en"), (summary.Source, summary.Language));
        Assert.Empty(MeetingSummarySchema.Validate(ContractJson.Serialize(summary)));
        var maps = stages.Where(s => s.Stage == SummaryStage.Map).ToList();
        Assert.True(maps.Count >= 2, $"{maps.Count} chunk(s) mapped: the transcript should not fit one");
        Assert.All(maps, m => Assert.Equal(maps.Count, m.Chunks));
        // Every complete chunk was mapped during the meeting; at stop at most the last one is left to map.
        Assert.All(maps.SkipLast(1), m => Assert.True(m.Prepared));
        Assert.Equal([SummaryStage.Reduce], stages.SkipWhile(s => s.Stage == SummaryStage.Map).Select(s => s.Stage!.Value));
        Assert.True(stages[^1].Constrained);
    }

    /// <summary>A transcript that fits the reduce's prompt goes to it as transcribed: one model call, no map.</summary>
    [Fact]
    public async Task A_meeting_whose_transcript_fits_the_reduce_is_summarized_in_one_call()
    {
        await using var llm = await SummaryLlmAsync();
        using var chat = SummaryChat(llm);
        using var prompts = new PromptRecorder(chat);
        var transcript = Segments(4);
        Assert.True(TranscriptTokens(llm, transcript) < 2048 / 4, "the transcript should fit the reduce's prompt");
        await using var summarizer = new MeetingSummarizer(SummaryModelOf(llm, prompts), "m6", NullLogger.Instance);

        var (summary, problem, stages) = await SummarizeAsync(summarizer, transcript);

        Assert.True(summary is not null, problem);
        Assert.Equal(SummarySource.Llm, summary.Source);
        Assert.Equal([SummaryStage.Reduce], stages.Select(s => s.Stage!.Value));
        var reduce = Assert.Single(prompts.Prompts);
        Assert.Contains("Transcript:\n" + transcript[0].Text, reduce, StringComparison.Ordinal);
        Assert.Contains(transcript[^1].Text, reduce, StringComparison.Ordinal);
        Assert.DoesNotContain("Notes:", reduce, StringComparison.Ordinal);
    }

    /// <summary>
    /// A transcript a little longer than one map's chunk makes two chunks: the first is mapped, and the short second one
    /// goes to the reduce as transcribed, after the first one's notes.
    /// </summary>
    [Fact]
    public async Task A_short_last_chunk_goes_to_the_reduce_as_transcribed_after_the_notes()
    {
        await using var llm = await SummaryLlmAsync();
        using var chat = SummaryChat(llm);
        using var prompts = new PromptRecorder(chat);
        // More tokens than a map's chunk can hold, whatever its instruction takes (2,048 less thinking, notes and template).
        var count = 1;
        while (TranscriptTokens(llm, Segments(count)) <= 2048 - Thinking - 256 - 32)
        {
            count++;
        }

        var transcript = Segments(count + 1);
        await using var summarizer = new MeetingSummarizer(SummaryModelOf(llm, prompts), "m8", NullLogger.Instance);

        var (summary, problem, stages) = await SummarizeAsync(summarizer, transcript);

        Assert.True(summary is not null, problem);
        var map = Assert.Single(stages, s => s.Stage == SummaryStage.Map);
        Assert.Equal((1, 1, false), (map.Chunk, map.Chunks, map.Prepared));
        Assert.Equal([SummaryStage.Map, SummaryStage.Reduce], stages.Select(s => s.Stage!.Value));
        Assert.Equal(2, prompts.Prompts.Count);
        var reduce = prompts.Prompts.Last();
        Assert.Contains("Notes:\n", reduce, StringComparison.Ordinal);
        Assert.Contains("Transcript of the rest of the meeting:\n", reduce, StringComparison.Ordinal);
        Assert.EndsWith(transcript[^1].Text, reduce, StringComparison.Ordinal);
        Assert.DoesNotContain(transcript[0].Text, reduce, StringComparison.Ordinal);
    }

    /// <summary>
    /// One chunk too long for the reduce's prompt (the reduce keeps half the 2,048-token context for its answer) but
    /// within a map's is mapped at stop, then reduced.
    /// </summary>
    [Fact]
    public async Task A_last_chunk_too_long_for_the_reduce_is_mapped_first()
    {
        await using var llm = await SummaryLlmAsync();
        using var chat = SummaryChat(llm);
        var model = SummaryModelOf(llm, chat);
        var count = 1;
        while (TranscriptTokens(llm, Segments(count)) < 2048 / 2)
        {
            count++;
        }

        var transcript = Segments(count);
        await using var summarizer = new MeetingSummarizer(model, "m7", NullLogger.Instance);

        var (summary, problem, stages) = await SummarizeAsync(summarizer, transcript);

        Assert.True(summary is not null, problem);
        var map = Assert.Single(stages, s => s.Stage == SummaryStage.Map);
        Assert.Equal((1, 1, false), (map.Chunk, map.Chunks, map.Prepared));
        Assert.Equal([SummaryStage.Map, SummaryStage.Reduce], stages.Select(s => s.Stage!.Value));
    }

    private async Task<LlmService> SummaryLlmAsync()
    {
        var llm = new LlmService(new LlmServiceOptions { Inference = InferenceSettings.Cpu(1) });
        Assert.Equal(LlmModelState.Loaded, (await llm.LoadModelAsync(new ModelSpec { Id = "summary", Path = models.SummaryLlm, ContextTokens = 2048 })).State);
        return llm;
    }

    private static LlmChatClient SummaryChat(LlmService llm) => new(llm, "summary", LlmPriority.Batch, Thinking);

    private static SummaryModel SummaryModelOf(LlmService llm, IChatClient chat) => new(chat, 2048, Thinking, text => Tokens(llm, text));

    private static int Tokens(LlmService llm, string text) => llm.CountTokens("summary", text)!.Value;

    // The transcript's tokens as the chunker joins its segments.
    private static int TranscriptTokens(LlmService llm, IEnumerable<TranscriptSegment> segments) => Tokens(llm, string.Join('\n', segments.Select(s => s.Text)));

    private static List<TranscriptSegment> Segments(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new TranscriptSegment($"t{i * 5000:D9}-0", 0, i * 5, (i * 5) + 4, $"Point {i}: Ana will send the budget by Friday, and we decided to ship the new fridge line in March.", "en"))];

    private static async Task<(MeetingSummary? Summary, string Problem, List<MeetingProgress> Stages)> SummarizeAsync(MeetingSummarizer summarizer, IReadOnlyList<TranscriptSegment> transcript)
    {
        var stages = new List<MeetingProgress>();
        var (summary, problem) = await summarizer.SummarizeAsync(transcript, new MeetingParameters(AudioCodecs.Opus, 16000, 1, "en", ["Ana"]), [new SequenceGap(7, 2)], p =>
        {
            stages.Add(p);
            return Task.CompletedTask;
        }, default);
        return (summary, problem, stages);
    }

    /// <summary>Passes every request on to the real model and keeps its prompt, to show what the summarizer asked.</summary>
    private sealed class PromptRecorder(IChatClient model) : DelegatingChatClient(model)
    {
        public ConcurrentQueue<string> Prompts { get; } = new();

        public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Prompts.Enqueue(string.Join('\n', messages.Select(m => m.Text)));
            return base.GetStreamingResponseAsync(messages, options, cancellationToken);
        }
    }
}
