using System.Buffers;
using System.Threading.Channels;
using Appliance.Audio;
using Appliance.Daemon.Speech;
using Appliance.Meetings;
using Appliance.Speech.Vad;
using Appliance.Speech.Whisper;
using TranscriptSegment = Appliance.Meetings.TranscriptSegment;

namespace Appliance.Daemon.Meetings;

/// <summary>What a worker tells the service as it goes.</summary>
internal interface IMeetingSink
{
    Task TranscriptAsync(string sessionId, TranscriptSegment segment, string language);

    Task ProgressAsync(string sessionId, object progress);

    Task FinishedAsync(string sessionId, CancellationToken cancellationToken);
}

/// <summary>
/// Turns one session's released frames, in sequence order, into transcript segments as the meeting goes on: decode to
/// 16 kHz mono (lost frames become silence of the same length), voice activity detection, and one Whisper pass per
/// utterance (or per 28 s of continuous speech). Transcriptions of all sessions share one slot, so sessions take turns.
/// Only the utterance being heard is held in memory; the audio itself is in the session's journal.
/// </summary>
internal sealed class MeetingWorker : IAsyncDisposable
{
    private const int MaxUtteranceSamples = 28 * AudioFile.Mono16kRate;

    private readonly string _sessionId;
    private readonly MeetingParameters _parameters;
    private readonly SpeechHost _speech;
    private readonly SemaphoreSlim _transcriptionSlot;
    private readonly IMeetingSink _sink;
    private readonly Channel<Work> _work = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _loop;
    private int _segments;

    public MeetingWorker(string sessionId, MeetingParameters parameters, SpeechHost speech, SemaphoreSlim transcriptionSlot, IMeetingSink sink, int firstSegmentNumber)
    {
        _sessionId = sessionId;
        _parameters = parameters;
        _speech = speech;
        _transcriptionSlot = transcriptionSlot;
        _sink = sink;
        _segments = firstSegmentNumber;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Seconds of audio heard so far.</summary>
    public double HeardSeconds { get; private set; }

    public void Enqueue(AudioFrame frame) => _work.Writer.TryWrite(new Work(frame, 0));

    public void EnqueueGap(long missingFrames) => _work.Writer.TryWrite(new Work(null, missingFrames));

    /// <summary>No more audio: the worker finishes the last utterance, then the sink makes the summary.</summary>
    public void Complete() => _work.Writer.TryComplete();

    /// <summary>Stops at once (abort, delete, shutdown); nothing more is published.</summary>
    public async ValueTask DisposeAsync()
    {
        _work.Writer.TryComplete();
        await _abort.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Aborted.
        }

        _abort.Dispose();
    }

    public Task Finished => _loop;

    private async Task RunAsync()
    {
        var token = _abort.Token;
        await _speech.Ready.WaitAsync(token).ConfigureAwait(false);
        var decoder = CreateDecoder();
        using var disposeDecoder = decoder as IDisposable;
        var converter = new Mono16kConverter(decoder);
        var vad = _speech.CreateVad();
        using var detector = vad.Detector;
        var pcm = new ArrayBufferWriter<float>();
        var utterance = new List<float>();
        long heard = 0;
        long utteranceStart = -1;
        var samplesPerFrame = 0;
        await foreach (var work in _work.Reader.ReadAllAsync(token).ConfigureAwait(false))
        {
            pcm.Clear();
            if (work.Frame is { } frame)
            {
                // A frame the codec cannot decode is counted by the decoder and heard as nothing.
                converter.Push(frame.Payload.Span, pcm);
                samplesPerFrame = Math.Max(samplesPerFrame, pcm.WrittenCount);
            }
            else if (samplesPerFrame > 0)
            {
                pcm.Write(new float[(int)Math.Min(work.MissingFrames * samplesPerFrame, 10L * AudioFile.Mono16kRate)]);
            }

            var samples = pcm.WrittenSpan.ToArray();
            foreach (var e in detector.Process(samples))
            {
                if (e.Kind == VadEventKind.SpeechStart)
                {
                    utteranceStart = e.Sample;
                    // Keep the audio from the start of speech (it may lie inside this chunk or the previous one).
                    var keep = (int)Math.Min(utterance.Count, Math.Max(0, heard - e.Sample));
                    utterance.RemoveRange(0, utterance.Count - keep);
                }
                else if (utteranceStart >= 0)
                {
                    var end = (int)Math.Clamp(e.Sample - heard, 0, samples.Length);
                    utterance.AddRange(samples.AsSpan(0, end));
                    await TranscribeAsync(utterance, utteranceStart, token).ConfigureAwait(false);
                    utterance.Clear();
                    utteranceStart = -1;
                }
            }

            utterance.AddRange(samples);
            heard += samples.Length;
            HeardSeconds = heard / (double)AudioFile.Mono16kRate;
            if (utteranceStart < 0 && utterance.Count > AudioFile.Mono16kRate)
            {
                // Silence: keep a second of context for the next speech start.
                utterance.RemoveRange(0, utterance.Count - AudioFile.Mono16kRate);
            }
            else if (utteranceStart >= 0 && utterance.Count >= MaxUtteranceSamples)
            {
                await TranscribeAsync(utterance, utteranceStart, token).ConfigureAwait(false);
                utteranceStart = heard;
                utterance.Clear();
            }
        }

        foreach (var e in detector.Flush())
        {
            if (e.Kind == VadEventKind.SpeechStart)
            {
                utteranceStart = e.Sample;
            }
        }

        if (utteranceStart >= 0 && utterance.Count > 0)
        {
            await TranscribeAsync(utterance, utteranceStart, token).ConfigureAwait(false);
        }

        await _sink.FinishedAsync(_sessionId, token).ConfigureAwait(false);
    }

    private IAudioFrameDecoder CreateDecoder() => _parameters.Codec == "opus"
        ? new OpusFrameDecoder(_parameters.SampleRate, _parameters.Channels)
        : new PcmFrameDecoder(new PcmFormat(_parameters.SampleRate, _parameters.Channels, PcmEncoding.S16LE));

    private async Task TranscribeAsync(List<float> utterance, long startSample, CancellationToken token)
    {
        if (_speech.Transcriber is not { } transcriber || utterance.Count < AudioFile.Mono16kRate / 10)
        {
            return;
        }

        var audio = utterance.ToArray();
        await _transcriptionSlot.WaitAsync(token).ConfigureAwait(false);
        TranscriptionResult result;
        try
        {
            result = await transcriber.TranscribeAsync(audio, new TranscriptionOptions { Language = _parameters.LanguageHint, MaxNewTokens = 96 }, token).ConfigureAwait(false);
        }
        finally
        {
            _transcriptionSlot.Release();
        }

        var offset = TimeSpan.FromSeconds(startSample / (double)AudioFile.Mono16kRate);
        foreach (var segment in result.Segments)
        {
            var id = $"s{_segments++:D5}";
            await _sink.TranscriptAsync(_sessionId, new TranscriptSegment(id, offset + segment.Start, offset + segment.End, segment.Text.Trim(), 0), segment.Language).ConfigureAwait(false);
        }

        await _sink.ProgressAsync(_sessionId, new { state = "transcribing", transcribedSeconds = Math.Round(HeardSeconds, 1) }).ConfigureAwait(false);
    }

    private sealed record Work(AudioFrame? Frame, long MissingFrames);
}
