using Appliance.Inference;
using Appliance.Meetings.Pipeline;
using Appliance.Profiles;
using Appliance.Speech;
using Appliance.Speech.Whisper;

namespace Appliance.Meetings.Tests;

/// <summary>
/// One session's transcriber on its own: a journal filled and stopped through the store, a forged Whisper, the energy
/// VAD, and the events recorded.
/// </summary>
public sealed class TranscriberTests : IClassFixture<PipelineModels>, IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private static readonly MeetingParameters Pcm = new(AudioCodecs.PcmS16LE, 16000, 1, "en", []);

    private readonly PipelineModels _models;
    private readonly string _root;
    private readonly MeetingSessionManager _store;
    private readonly SpeechModels _speech;
    private readonly RecordedEvents _events = new();

    public TranscriberTests(PipelineModels models)
    {
        _models = models;
        _root = Path.Combine(models.Root, "transcriber-" + Guid.NewGuid().ToString("N"));
        _store = new MeetingSessionManager(new MeetingStoreOptions { RootDirectory = _root }, TimeProvider.System);
        _speech = new SpeechModels(new ModelSet { Asr = new ModelSpec { Id = "whisper", Path = models.Whisper } }, InferenceSettings.Cpu(1), TranscriptionSettings.Unguarded);
        _speech.Load();
    }

    [Fact]
    public async Task A_stopped_journal_is_transcribed_to_its_end_and_a_rerun_from_the_checkpoint_adds_nothing()
    {
        Record("t1", _models.Frames.Count);

        Assert.True(await Transcriber("t1").RunAsync(default).WaitAsync(Limit));

        var stored = _store.ReadTranscript("t1")!;
        Assert.NotEmpty(stored);
        Assert.Equal(stored.Select(s => s.SegmentId), _events.Transcript("t1").Select(s => s.SegmentId));
        Assert.All(stored.Zip(stored.Skip(1)), pair => Assert.True(pair.First.Start <= pair.Second.Start));
        Assert.All(stored, s => Assert.InRange(s.End, s.Start, 8.5));
        var checkpoint = _store.Get("t1")!.TranscribedSeconds;
        Assert.InRange(checkpoint, 7.9, 8.1); // all 8 s, the silence at the end included
        Assert.Equal(100, _events.Progress("t1")[^1].PercentTranscribed);

        // As after a restart: the journal is read again from its start, but nothing before the checkpoint is transcribed.
        Assert.True(await Transcriber("t1").RunAsync(default).WaitAsync(Limit));
        Assert.Equal(stored.Count, _store.ReadTranscript("t1")!.Count);
        Assert.Equal(stored.Count, _events.Transcript("t1").Count);
    }

    [Fact]
    public async Task A_transcription_cancelled_inside_the_model_keeps_the_checkpoint_before_its_utterance()
    {
        Record("t2", _models.Frames.Count);
        var holding = await _speech.Scheduler.AcquireAsync("voice-command", TranscriptionPriority.Interactive);
        using var cancel = new CancellationTokenSource();
        var run = Transcriber("t2").RunAsync(cancel.Token);
        Assert.True(SpinWait.SpinUntil(() => _speech.Scheduler.Waiting == 1, Limit), "the transcriber never asked for the model");

        // The turn is granted first, so the cancellation reaches the model, not the wait (which would throw before it).
        holding.Dispose();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(Limit));
        Assert.Equal(0, _store.Get("t2")!.TranscribedSeconds);
        Assert.Empty(_store.ReadTranscript("t2")!);

        // The restart transcribes the utterance whole.
        Assert.True(await Transcriber("t2").RunAsync(default).WaitAsync(Limit));
        Assert.NotEmpty(_store.ReadTranscript("t2")!);
    }

    [Fact]
    public async Task A_deleted_session_ends_the_run_with_false()
    {
        Record("t3", 10, stop: false);
        var transcriber = Transcriber("t3");
        var run = transcriber.RunAsync(default);
        Assert.Equal(MeetingResult.Ok, _store.Delete("t3"));
        transcriber.Wake();

        Assert.False(await run.WaitAsync(Limit));
    }

    public void Dispose()
    {
        _store.Dispose();
        _speech.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Starts a session and journals its first <paramref name="frames"/> frames of speech, then stops it.</summary>
    private void Record(string sessionId, int frames, bool stop = true)
    {
        Assert.Equal(MeetingResult.Ok, _store.Start(sessionId, Pcm));
        for (var seq = 0; seq < frames; seq++)
        {
            Assert.Equal(FrameResult.Accepted, _store.AcceptFrame(sessionId, new AudioFrame(seq, AudioCodecs.PcmS16LE, 0, _models.Frames[seq])));
        }

        if (stop)
        {
            Assert.Equal(MeetingResult.Ok, _store.Stop(sessionId).Result);
        }
    }

    private MeetingTranscriber Transcriber(string sessionId) =>
        new(sessionId, Pcm, _store, _speech, _events, new MeetingProgressReporter(_store, _events, TimeProvider.System), TimeProvider.System);
}
