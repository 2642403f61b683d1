using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Appliance.Audio;
using Appliance.Speech;
using Appliance.Speech.Vad;
using Appliance.Speech.Whisper;

namespace Appliance.Meetings.Pipeline;

/// <summary>
/// Turns one session's audio into transcript segments as the meeting goes on. It reads the frames back from the
/// session's journal in sequence order (so the audio waits on disk, not in memory, when transcription lags), decodes
/// them to 16 kHz mono (lost frames become silence of the same length, or, for a short Opus loss, what forward error
/// correction and concealment rebuild), runs voice activity detection, and sends each
/// utterance (or 28 s of continuous speech) through Whisper, taking turns with every other user of the model through
/// its <see cref="TranscriptionScheduler"/> at batch priority. Segments go to the store first, then to the events.
/// Segment ids come from the utterance's place in the audio, so a restart, which reads the journal again and skips the
/// utterances already transcribed, gives the same ids.
/// </summary>
/// <remarks>One instance per session run; <see cref="Wake"/> may be called from any thread, <see cref="RunAsync"/> once.</remarks>
internal sealed class MeetingTranscriber
{
    private const int MaxUtteranceSamples = 28 * SpeechAudio.SampleRate;

    /// <summary>The longest loss the codec is asked to rebuild, in frames (100 ms of 20 ms frames); a longer one is silence.</summary>
    private const int MaxConcealedFrames = 5;

    /// <summary>Of a gap's silence, what the VAD hears (enough to end any utterance); the rest only moves the timeline: 2 s.</summary>
    private const long SilenceHeard = 2L * SpeechAudio.SampleRate;
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(2);

    private readonly string _sessionId;
    private readonly MeetingParameters _parameters;
    private long _transcribedThroughSample;
    private readonly MeetingSessionManager _store;
    private readonly SpeechModels _speech;
    private readonly IMeetingEvents _events;
    private readonly MeetingProgressReporter _progress;
    private readonly TimeProvider _time;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private long _heard;
    private long _framesRead;
    private long _utteranceStart = -1;
    private long _lastProgress;
    private long _vadOrigin; // the timeline sample where the VAD's own count starts (moved on by long gaps)
    private long _undecodable;

    /// <param name="sessionId">The session.</param>
    /// <param name="parameters">Its start parameters (codec, rate, channels, language).</param>
    /// <param name="store">The sessions: the journal is read from it and the transcript written to it.</param>
    /// <param name="speech">The speech models.</param>
    /// <param name="events">Where segments go.</param>
    /// <param name="progress">Where progress goes.</param>
    /// <param name="time">The clock for progress events.</param>
    public MeetingTranscriber(string sessionId, MeetingParameters parameters, MeetingSessionManager store, SpeechModels speech, IMeetingEvents events, MeetingProgressReporter progress, TimeProvider time)
    {
        _sessionId = sessionId;
        _parameters = parameters;
        _store = store;
        _speech = speech;
        _events = events;
        _progress = progress;
        _time = time;
    }

    /// <summary>Raised after each segment is stored, with the characters of its text (the summarizer maps ahead).</summary>
    public event Action<int>? Transcribed;

    /// <summary>Frames were accepted, or the session stopped: read on.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>
    /// Transcribes until the stopped session's journal is read to its end. Returns true then, false when the session
    /// went away (deleted) first.
    /// </summary>
    /// <param name="cancellationToken">Stops at once (abort, delete, shutdown): the journal and transcript stay for a restart.</param>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="MeetingRunException">The speech model failed on an utterance (<see cref="RpcErrorCodes.TranscriptionFailed"/>); the checkpoint stays before it.</exception>
    public async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        await _speech.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        using var reader = _store.OpenReleasedAudio(_sessionId);
        if (reader is null || _store.TranscribedThrough(_sessionId) is not { } checkpoint)
        {
            return false;
        }

        // Audio transcribed before a restart: utterances ending by then are heard again but not transcribed again.
        _transcribedThroughSample = SpeechAudio.Samples(checkpoint);

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
            var status = reader.Next(out var frame, out var missing);
            if (status == ReleasedAudioStatus.Waiting)
            {
                await _wake.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (status == ReleasedAudioStatus.Gone)
            {
                return false;
            }

            if (status == ReleasedAudioStatus.Ended)
            {
                break;
            }

            pcm.Clear();
            if (missing > 0 && (missing > MaxConcealedFrames || !converter.PushConcealed((int)missing, frame.Payload.Span, pcm)))
            {
                // Frames that never arrived are silence of their full length on the timeline, unless the codec rebuilt
                // a short loss (Opus: from the next packet's forward error correction, else by concealment).
                decoder.FramesLost((int)Math.Min(missing, int.MaxValue));
                await HearSilenceAsync(missing * samplesPerFrame, detector, utterance, cancellationToken).ConfigureAwait(false);
            }

            var concealed = pcm.WrittenCount;
            var skippedBefore = converter.FramesSkipped;
            converter.Push(frame.Payload.Span, pcm);
            if (converter.FramesSkipped > skippedBefore)
            {
                // A frame the codec cannot decode is counted by the decoder and heard as silence of a frame's length.
                pcm.GetSpan(samplesPerFrame)[..samplesPerFrame].Clear();
                pcm.Advance(samplesPerFrame);
            }
            else
            {
                samplesPerFrame = Math.Max(samplesPerFrame, pcm.WrittenCount - concealed);
            }

            _framesRead += missing + 1;
            _undecodable = converter.FramesSkipped;
            await HearAsync(pcm.WrittenMemory, detector, utterance, cancellationToken).ConfigureAwait(false);
            if (_time.GetElapsedTime(_lastProgress) >= ProgressInterval)
            {
                await ReportProgressAsync(final: false, cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var e in detector.Flush())
        {
            if (e.Kind == VadEventKind.SpeechStart)
            {
                _utteranceStart = _vadOrigin + e.Sample;
            }
        }

        if (_utteranceStart >= 0 && utterance.Count > 0)
        {
            await TranscribeAsync(utterance, _utteranceStart, cancellationToken).ConfigureAwait(false);
        }

        _utteranceStart = -1;
        _store.SetTranscribedThrough(_sessionId, SpeechAudio.Duration(_heard)); // all of it: a restart while summarizing transcribes nothing again
        await ReportProgressAsync(final: true, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Puts <paramref name="samples"/> of silence on the timeline (frames that never arrived). The VAD hears enough of
    /// it to close an utterance in progress; the rest only moves the timeline on, however long the gap, and the VAD
    /// starts afresh after it.
    /// </summary>
    private async Task HearSilenceAsync(long samples, IVoiceActivityDetector detector, List<float> utterance, CancellationToken cancellationToken)
    {
        var heard = Math.Min(samples, SilenceHeard);
        var silence = new float[Math.Min(heard, SpeechAudio.SampleRate)];
        for (long done = 0; done < heard; done += silence.Length)
        {
            await HearAsync(silence.AsMemory(0, (int)Math.Min(silence.Length, heard - done)), detector, utterance, cancellationToken).ConfigureAwait(false);
        }

        if (samples > heard)
        {
            if (_utteranceStart >= 0 && utterance.Count > 0)
            {
                await TranscribeAsync(utterance, _utteranceStart, cancellationToken).ConfigureAwait(false);
            }

            utterance.Clear();
            _utteranceStart = -1;
            _heard += samples - heard;
            detector.Reset();
            _vadOrigin = _heard;
        }
    }

    /// <summary>Runs the VAD over one decoded frame and transcribes each utterance it closes. <paramref name="samples"/> stays untouched until this returns.</summary>
    private async Task HearAsync(ReadOnlyMemory<float> samples, IVoiceActivityDetector detector, List<float> utterance, CancellationToken cancellationToken)
    {
        foreach (var e in detector.Process(samples.Span))
        {
            var sample = _vadOrigin + e.Sample;
            if (e.Kind == VadEventKind.SpeechStart)
            {
                _utteranceStart = sample;
                // Keep the audio from the start of speech (it may lie inside this chunk or the previous one).
                var keep = (int)Math.Min(utterance.Count, Math.Max(0, _heard - sample));
                utterance.RemoveRange(0, utterance.Count - keep);
            }
            else if (_utteranceStart >= 0)
            {
                var end = (int)Math.Clamp(sample - _heard, 0, samples.Length);
                utterance.AddRange(samples.Span[..end]);
                await TranscribeAsync(utterance, _utteranceStart, cancellationToken).ConfigureAwait(false);
                utterance.Clear();
                _utteranceStart = -1;
            }
        }

        utterance.AddRange(samples.Span);
        _heard += samples.Length;
        if (_utteranceStart < 0 && utterance.Count > SpeechAudio.SampleRate)
        {
            // Silence: keep a second of context for the next speech start.
            utterance.RemoveRange(0, utterance.Count - SpeechAudio.SampleRate);
        }
        else if (_utteranceStart >= 0 && utterance.Count >= MaxUtteranceSamples)
        {
            await TranscribeAsync(utterance, _utteranceStart, cancellationToken).ConfigureAwait(false);
            _utteranceStart = _heard;
            utterance.Clear();
        }
    }

    /// <summary>The stream's decoder: Opus or PCM, as the start declared.</summary>
    private IAudioFrameDecoder CreateDecoder() => _parameters.Codec == AudioCodecs.Opus
        ? CreateOpusDecoder(_parameters.Channels)
        : new PcmFrameDecoder(new PcmFormat(_parameters.SampleRate, _parameters.Channels, PcmEncoding.S16LE));

    /// <summary>
    /// An Opus decoder at 48 kHz, its native rate, whatever rate the start declared (any packet decodes at any rate,
    /// and the converter brings it to 16 kHz): Concentus decodes Hybrid packets (SILK and CELT, the normal mode at
    /// 24-48 kb/s) to near silence at 16 and 24 kHz, and correctly at 48 kHz. Never inlined: when the JIT recompiles
    /// <see cref="CreateDecoder"/> after its first 30 calls, inlining this would load Concentus's assembly into a
    /// daemon that only ever received PCM (the soak saw its descriptors open half an hour in).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static OpusFrameDecoder CreateOpusDecoder(int channels) => new(48000, channels);

    private async Task TranscribeAsync(List<float> utterance, long startSample, CancellationToken cancellationToken)
    {
        var endSample = startSample + utterance.Count;
        if (endSample <= _transcribedThroughSample || _speech.Transcriber is not { } transcriber || utterance.Count < SpeechAudio.SampleRate / 10)
        {
            return; // transcribed before a restart, no model, or too short to hold a word
        }

        var audio = utterance.ToArray();
        TranscriptionResult result;
        using (await _speech.Scheduler.AcquireAsync(_sessionId, TranscriptionPriority.Batch, cancellationToken).ConfigureAwait(false))
        {
            result = await transcriber.TranscribeAsync(audio, new TranscriptionOptions { Settings = _speech.Transcription, Language = _parameters.LanguageHint, MaxNewTokens = 96 }, cancellationToken).ConfigureAwait(false);
        }

        // Nothing of an utterance that was not heard through is kept: the checkpoint stays before it, so a restart
        // transcribes it whole.
        if (result.Cancelled)
        {
            throw new OperationCanceledException("the transcription was cancelled", cancellationToken);
        }

        if (result.Error is { } error)
        {
            throw new MeetingRunException(RpcErrorCodes.TranscriptionFailed, string.Create(CultureInfo.InvariantCulture, $"the speech model failed on the audio from {SpeechAudio.Seconds(startSample):0.0} s: {error.Message}"));
        }

        var offset = SpeechAudio.Duration(startSample);
        var number = 0;
        foreach (var recognized in result.Segments)
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"t{(long)offset.TotalMilliseconds:D9}-{number++}");
            var segment = new TranscriptSegment(id, 0, (offset + recognized.Start).TotalSeconds, (offset + recognized.End).TotalSeconds, recognized.Text.Trim(), recognized.Language);
            _store.AppendTranscript(_sessionId, segment);
            Transcribed?.Invoke(segment.Text.Length);
            await _events.TranscriptAsync(_sessionId, segment, cancellationToken).ConfigureAwait(false);
        }

        _store.SetTranscribedThrough(_sessionId, SpeechAudio.Duration(endSample));
        await ReportProgressAsync(final: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Progress: audio received (released frames, lost ones included), audio heard (decoded), and audio transcribed
    /// (everything heard except the utterance still being listened to), with the share transcribed.
    /// </summary>
    private Task ReportProgressAsync(bool final, CancellationToken cancellationToken)
    {
        _lastProgress = _time.GetTimestamp();
        var info = _store.Get(_sessionId);
        var secondsPerFrame = _framesRead > 0 ? _heard / (double)_framesRead / SpeechAudio.SampleRate : 0;
        var received = final ? SpeechAudio.Seconds(_heard) : Math.Max(SpeechAudio.Seconds(_heard), ((info?.ReleasedThrough ?? -1) + 1) * secondsPerFrame);
        var transcribed = (_utteranceStart >= 0 ? Math.Min(_utteranceStart, _heard) : _heard) / (double)SpeechAudio.SampleRate;
        var percent = received > 0 ? Math.Min(100, 100 * transcribed / received) : final ? 100 : 0;
        return _progress.ReportAsync(
            _sessionId,
            new MeetingProgress
            {
                State = (info?.State ?? MeetingState.Open).Phase(),
                ReceivedSeconds = Math.Round(received, 1),
                TranscribedSeconds = Math.Round(transcribed, 1),
                PercentTranscribed = Math.Round(percent, 1),
                UndecodableFrames = _undecodable,
            },
            cancellationToken);
    }
}
