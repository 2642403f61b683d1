using System.Buffers;
using System.Globalization;
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

    /// <summary>The transcript is made up to <paramref name="through"/>; a restart resumes from there.</summary>
    void TranscribedThrough(string sessionId, TimeSpan through);

    Task ProgressAsync(string sessionId, object progress);

    Task FinishedAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>The worker stopped on an unexpected error (a journal it cannot read back, a codec that fails).</summary>
    Task FailedAsync(string sessionId, Exception error);
}

/// <summary>
/// Turns one session's audio into transcript segments as the meeting goes on. It reads the frames back from the
/// session's journal in sequence order (so the audio waits on disk, not in memory, when transcription lags), decodes
/// them to 16 kHz mono (lost frames become silence of the same length), runs voice activity detection, and sends each
/// utterance (or 28 s of continuous speech) through Whisper. Transcriptions of all sessions share one slot, so
/// sessions take turns. Segment ids come from the utterance's place in the audio, so a restart, which reads the journal
/// again and skips the utterances already transcribed, gives the same ids.
/// </summary>
internal sealed class MeetingWorker : IAsyncDisposable
{
    private const int MaxUtteranceSamples = 28 * AudioFile.Mono16kRate;
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(2);

    private readonly string _sessionId;
    private readonly MeetingParameters _parameters;
    private readonly ReleasedAudioReader _reader;
    private readonly long _transcribedThroughSample;
    private readonly Func<long> _releasedThrough;
    private readonly SpeechHost _speech;
    private readonly SemaphoreSlim _transcriptionSlot;
    private readonly IMeetingSink _sink;
    private readonly TimeProvider _time;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _loop;
    private long _heard;
    private long _framesRead;
    private long _utteranceStart = -1;
    private long _lastProgress;

    /// <param name="sessionId">The session.</param>
    /// <param name="parameters">Its start parameters (codec, rate, channels, language).</param>
    /// <param name="reader">The session's released audio, from the start of the journal; the worker disposes it.</param>
    /// <param name="transcribedThrough">Audio already transcribed before a restart: utterances ending by then are not transcribed again.</param>
    /// <param name="releasedThrough">The session's last released sequence number, for progress.</param>
    /// <param name="speech">The speech models.</param>
    /// <param name="transcriptionSlot">The slot all sessions' transcriptions take turns on.</param>
    /// <param name="sink">Where segments and progress go.</param>
    /// <param name="time">The clock for progress events.</param>
    public MeetingWorker(string sessionId, MeetingParameters parameters, ReleasedAudioReader reader, TimeSpan transcribedThrough, Func<long> releasedThrough, SpeechHost speech, SemaphoreSlim transcriptionSlot, IMeetingSink sink, TimeProvider time)
    {
        _sessionId = sessionId;
        _parameters = parameters;
        _reader = reader;
        _transcribedThroughSample = (long)(transcribedThrough.TotalSeconds * AudioFile.Mono16kRate);
        _releasedThrough = releasedThrough;
        _speech = speech;
        _transcriptionSlot = transcriptionSlot;
        _sink = sink;
        _time = time;
        _loop = Task.Run(RunGuardedAsync);
    }

    /// <summary>The task of the worker's loop: ends after the summary, or when aborted.</summary>
    public Task Finished => _loop;

    /// <summary>Frames were accepted, or the session stopped: read on.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Stops at once (abort, delete, shutdown); nothing more is published.</summary>
    public async ValueTask DisposeAsync()
    {
        await _abort.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Aborted.
        }

        _reader.Dispose();
        _abort.Dispose();
    }

    private async Task RunGuardedAsync()
    {
        try
        {
            await RunAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // One meeting's failure is reported and must not go unnoticed in a faulted task.
        catch (Exception e)
#pragma warning restore CA1031
        {
            await _sink.FailedAsync(_sessionId, e).ConfigureAwait(false);
        }
    }

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
        var samplesPerFrame = 0;
        while (true)
        {
            var status = _reader.Next(out var frame, out var missing);
            if (status == ReleasedAudioStatus.Waiting)
            {
                await _wake.Reader.ReadAsync(token).ConfigureAwait(false);
                continue;
            }

            if (status == ReleasedAudioStatus.Gone)
            {
                return;
            }

            if (status == ReleasedAudioStatus.Ended)
            {
                break;
            }

            pcm.Clear();
            if (missing > 0 && samplesPerFrame > 0)
            {
                pcm.Write(new float[(int)Math.Min(missing * samplesPerFrame, 10L * AudioFile.Mono16kRate)]);
            }

            // A frame the codec cannot decode is counted by the decoder and heard as nothing.
            var before = pcm.WrittenCount;
            converter.Push(frame.Payload.Span, pcm);
            samplesPerFrame = Math.Max(samplesPerFrame, pcm.WrittenCount - before);
            _framesRead += missing + 1;
            await HearAsync(pcm.WrittenSpan.ToArray(), detector, utterance, token).ConfigureAwait(false);
            if (_time.GetElapsedTime(_lastProgress) >= ProgressInterval)
            {
                await ProgressAsync(final: false).ConfigureAwait(false);
            }
        }

        foreach (var e in detector.Flush())
        {
            if (e.Kind == VadEventKind.SpeechStart)
            {
                _utteranceStart = e.Sample;
            }
        }

        if (_utteranceStart >= 0 && utterance.Count > 0)
        {
            await TranscribeAsync(utterance, _utteranceStart, token).ConfigureAwait(false);
        }

        _utteranceStart = -1;
        _sink.TranscribedThrough(_sessionId, Seconds(_heard)); // all of it: a restart while summarizing transcribes nothing again
        await ProgressAsync(final: true).ConfigureAwait(false);
        await _sink.FinishedAsync(_sessionId, token).ConfigureAwait(false);
    }

    private async Task HearAsync(float[] samples, IVoiceActivityDetector detector, List<float> utterance, CancellationToken token)
    {
        foreach (var e in detector.Process(samples))
        {
            if (e.Kind == VadEventKind.SpeechStart)
            {
                _utteranceStart = e.Sample;
                // Keep the audio from the start of speech (it may lie inside this chunk or the previous one).
                var keep = (int)Math.Min(utterance.Count, Math.Max(0, _heard - e.Sample));
                utterance.RemoveRange(0, utterance.Count - keep);
            }
            else if (_utteranceStart >= 0)
            {
                var end = (int)Math.Clamp(e.Sample - _heard, 0, samples.Length);
                utterance.AddRange(samples.AsSpan(0, end));
                await TranscribeAsync(utterance, _utteranceStart, token).ConfigureAwait(false);
                utterance.Clear();
                _utteranceStart = -1;
            }
        }

        utterance.AddRange(samples);
        _heard += samples.Length;
        if (_utteranceStart < 0 && utterance.Count > AudioFile.Mono16kRate)
        {
            // Silence: keep a second of context for the next speech start.
            utterance.RemoveRange(0, utterance.Count - AudioFile.Mono16kRate);
        }
        else if (_utteranceStart >= 0 && utterance.Count >= MaxUtteranceSamples)
        {
            await TranscribeAsync(utterance, _utteranceStart, token).ConfigureAwait(false);
            _utteranceStart = _heard;
            utterance.Clear();
        }
    }

    private IAudioFrameDecoder CreateDecoder() => _parameters.Codec == "opus"
        ? new OpusFrameDecoder(_parameters.SampleRate, _parameters.Channels)
        : new PcmFrameDecoder(new PcmFormat(_parameters.SampleRate, _parameters.Channels, PcmEncoding.S16LE));

    private async Task TranscribeAsync(List<float> utterance, long startSample, CancellationToken token)
    {
        var endSample = startSample + utterance.Count;
        if (endSample <= _transcribedThroughSample || _speech.Transcriber is not { } transcriber || utterance.Count < AudioFile.Mono16kRate / 10)
        {
            return; // transcribed before a restart, no model, or too short to hold a word
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

        var offset = Seconds(startSample);
        var number = 0;
        foreach (var segment in result.Segments)
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"t{(long)offset.TotalMilliseconds:D9}-{number++}");
            await _sink.TranscriptAsync(_sessionId, new TranscriptSegment(id, offset + segment.Start, offset + segment.End, segment.Text.Trim(), 0), segment.Language).ConfigureAwait(false);
        }

        _sink.TranscribedThrough(_sessionId, Seconds(endSample));
        await ProgressAsync(final: false).ConfigureAwait(false);
    }

    /// <summary>
    /// Progress: audio received (released frames, lost ones included), audio heard (decoded), and audio transcribed
    /// (everything heard except the utterance still being listened to), with the share transcribed.
    /// </summary>
    private Task ProgressAsync(bool final)
    {
        _lastProgress = _time.GetTimestamp();
        var secondsPerFrame = _framesRead > 0 ? _heard / (double)_framesRead / AudioFile.Mono16kRate : 0;
        var received = final ? Seconds(_heard).TotalSeconds : Math.Max(_heard / (double)AudioFile.Mono16kRate, (_releasedThrough() + 1) * secondsPerFrame);
        var transcribed = (_utteranceStart >= 0 ? Math.Min(_utteranceStart, _heard) : _heard) / (double)AudioFile.Mono16kRate;
        var percent = received > 0 ? Math.Min(100, 100 * transcribed / received) : final ? 100 : 0;
        return _sink.ProgressAsync(_sessionId, new
        {
            receivedSeconds = Math.Round(received, 1),
            transcribedSeconds = Math.Round(transcribed, 1),
            percentTranscribed = Math.Round(percent, 1),
        });
    }

    private static TimeSpan Seconds(long samples) => TimeSpan.FromSeconds(samples / (double)AudioFile.Mono16kRate);
}
