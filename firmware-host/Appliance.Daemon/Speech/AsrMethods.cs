using System.Collections.Concurrent;
using System.Text.Json;
using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Llm;
using Appliance.Daemon.Rpc;
using Appliance.Speech.Vad;
using Appliance.Speech.Whisper;

namespace Appliance.Daemon.Speech;

/// <summary>
/// <c>asr.transcribe</c>: audio in the request (base64 WAV, MP3, Ogg Opus, or raw PCM with its format) or a file on the
/// device, through VAD-aligned 30 s windows of Whisper. Streams each segment as it is decoded
/// (<c>{"type":"segment","start","end","text","language","window"}</c>); the final result holds the full text.
/// Transcriptions run one at a time: the board's cores are shared by every window.
/// </summary>
internal sealed class AsrTranscribeMethod(SpeechHost speech, LlmHost models, AsrRequests requests) : IRpcMethod, IDisposable
{
    /// <summary>Audio requests are larger than commands: 16 MiB holds about 4 minutes of 16 kHz PCM in base64.</summary>
    public const int MaxAudioPayloadBytes = 16 * 1024 * 1024;

    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public string Name => "asr.transcribe";

    public int? MaxPayloadBytes => MaxAudioPayloadBytes;

    public void Dispose() => _oneAtATime.Dispose();

    public async Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken)
    {
        AsrParams? p;
        try
        {
            p = request.Params.Deserialize<AsrParams>(ContractJson.Options);
        }
        catch (JsonException ex)
        {
            return RpcOutcome.Failure(RpcErrorCodes.InvalidParams, $"asr.transcribe parameters: {ex.Message}");
        }

        if (speech.Transcriber is not { } transcriber)
        {
            await speech.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (speech.Transcriber is null)
            {
                return RpcOutcome.Failure(RpcErrorCodes.Unavailable, $"no speech recognition model: {speech.TranscriberProblem}");
            }

            transcriber = speech.Transcriber;
        }

        var (audio, readError) = Read(p!);
        if (audio is null)
        {
            return RpcOutcome.Failure(RpcErrorCodes.InvalidParams, readError!);
        }

        var requestId = p!.RequestId ?? Guid.NewGuid().ToString("N");
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!requests.TryAdd(requestId, cancel))
        {
            return RpcOutcome.Failure(RpcErrorCodes.InvalidParams, $"a transcription with requestId '{requestId}' is already running");
        }

        try
        {
            await _oneAtATime.WaitAsync(cancel.Token).ConfigureAwait(false);
            try
            {
                return await TranscribeAsync(request, transcriber, audio, p, requestId, cancel.Token).ConfigureAwait(false);
            }
            finally
            {
                _oneAtATime.Release();
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return RpcOutcome.Success(new { requestId, cancelled = true, text = "", segments = Array.Empty<object>() });
        }
        finally
        {
            requests.TryRemove(requestId, out _);
        }
    }

    private async Task<RpcOutcome> TranscribeAsync(RpcCall request, WhisperTranscriber transcriber, DecodedAudio audio, AsrParams p, string requestId, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        var vad = speech.CreateVad();
        IReadOnlyList<SpeechSegment> speechSegments;
        try
        {
            speechSegments = VoiceActivity.Segments(vad.Detector, audio.Samples);
        }
        finally
        {
            vad.Detector.Dispose();
        }

        await request.SendDeltaAsync(new { type = "started", requestId, durationSeconds = audio.Duration.TotalSeconds, speechSegments = speechSegments.Count, vad = vad.Detector.Kind }, cancellationToken).ConfigureAwait(false);
        var options = new TranscriptionOptions
        {
            Language = p.Language,
            Timestamps = p.Timestamps ?? false,
            BeamSize = p.BeamSize ?? 1,
            Speech = speechSegments,
        };
        var segments = new List<object>();
        var texts = new List<string>();
        string? language = null;
        await foreach (var item in transcriber.StreamAsync(audio.Samples, options, cancellationToken).ConfigureAwait(false))
        {
            switch (item)
            {
                case TranscriptSegmentEvent { Segment: var segment }:
                    language = segment.Language;
                    var body = new { type = "segment", start = segment.Start.TotalSeconds, end = segment.End.TotalSeconds, text = segment.Text, language = segment.Language, window = segment.Window };
                    segments.Add(body);
                    texts.Add(segment.Text.Trim());
                    await request.SendDeltaAsync(body, cancellationToken).ConfigureAwait(false);
                    break;
                case TranscriptionFailed { Error: var error }:
                    return RpcOutcome.Failure(
                        error.Code is Appliance.Speech.SpeechErrorCode.UnknownLanguage or Appliance.Speech.SpeechErrorCode.EmptyAudio or Appliance.Speech.SpeechErrorCode.InvalidOptions ? RpcErrorCodes.InvalidParams : RpcErrorCodes.TranscriptionFailed,
                        error.Message);
                case TranscriptionCompleted completed:
                    var elapsed = DateTime.UtcNow - started;
                    return RpcOutcome.Success(new
                    {
                        requestId,
                        cancelled = completed.Cancelled,
                        text = string.Join(" ", texts.Where(t => t.Length > 0)),
                        language,
                        segments,
                        windows = completed.Windows,
                        durationSeconds = audio.Duration.TotalSeconds,
                        realTimeFactor = audio.Duration.TotalSeconds > 0 ? Math.Round(elapsed.TotalSeconds / audio.Duration.TotalSeconds, 4) : 0,
                        framesSkipped = audio.FramesSkipped,
                    });
            }
        }

        return RpcOutcome.Failure(RpcErrorCodes.Internal, "the transcription ended without a result");
    }

    private (DecodedAudio? Audio, string? Error) Read(AsrParams p)
    {
        if ((p.Audio is null) == (p.Path is null))
        {
            return (null, "give exactly one of \"audio\" (base64 bytes) or \"path\" (a file on the device)");
        }

        if (p.Path is { } path)
        {
            return Decoded(AudioFile.ReadMono16k(models.ResolvePath(path)));
        }

        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(p.Audio!);
        }
        catch (FormatException)
        {
            return (null, "\"audio\" is not valid base64");
        }

        using var stream = new MemoryStream(bytes);
        switch (p.Format)
        {
            case null or "wav" or "mp3" or "ogg":
                return Decoded(AudioFile.ReadMono16k(stream));
            case "s16le" or "f32le":
                var format = new PcmFormat(p.SampleRate ?? AudioFile.Mono16kRate, p.Channels ?? 1, p.Format == "s16le" ? PcmEncoding.S16LE : PcmEncoding.F32LE);
                if (!format.IsValid)
                {
                    return (null, $"raw PCM needs a sample rate of {PcmFormat.MinSampleRate}-{PcmFormat.MaxSampleRate} Hz and 1-{PcmFormat.MaxChannels} channels");
                }

                var raw = Decoded(AudioFile.ReadRawPcm(stream, format));
                return raw.Audio is { } pcm ? (AudioFile.ToMono16k(pcm), null) : raw;
            default:
                return (null, $"unknown audio format '{p.Format}': use wav, mp3, ogg, s16le or f32le");
        }
    }

    private static (DecodedAudio? Audio, string? Error) Decoded(AudioReadResult result) =>
        result.Succeeded ? (result.Audio, null) : (null, $"cannot read the audio ({result.Error}): {result.Message}");

    private sealed record AsrParams
    {
        public string? Audio { get; init; }
        public string? Path { get; init; }
        public string? Format { get; init; }
        public int? SampleRate { get; init; }
        public int? Channels { get; init; }
        public string? Language { get; init; }
        public bool? Timestamps { get; init; }
        public int? BeamSize { get; init; }
        public string? RequestId { get; init; }
    }
}

/// <summary>The transcriptions in work, by request id, so <c>asr.cancel</c> can stop one.</summary>
internal sealed class AsrRequests : ConcurrentDictionary<string, CancellationTokenSource>;

/// <summary><c>asr.cancel</c> <c>{"requestId"}</c>: stops a transcription at its next decoder step.</summary>
internal sealed class AsrCancelMethod(AsrRequests requests) : IRpcMethod
{
    public string Name => "asr.cancel";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken)
    {
        if (!request.Params.TryGetProperty("requestId", out var id) || id.ValueKind != JsonValueKind.String)
        {
            return Task.FromResult(RpcOutcome.Failure(RpcErrorCodes.InvalidParams, "asr.cancel needs {\"requestId\": \"...\"}"));
        }

        var found = requests.TryGetValue(id.GetString()!, out var cancel);
        if (found)
        {
            cancel!.Cancel();
        }

        return Task.FromResult(RpcOutcome.Success(new { cancelled = found }));
    }
}
