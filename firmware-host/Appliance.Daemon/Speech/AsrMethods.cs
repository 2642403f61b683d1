using System.Collections.Concurrent;
using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Rpc;
using Appliance.Inference;
using Appliance.Speech;
using Appliance.Speech.Vad;
using Appliance.Speech.Whisper;

namespace Appliance.Daemon.Speech;

/// <summary>
/// <c>asr.transcribe</c>: audio in the request (base64 WAV, MP3, Ogg Opus, or raw PCM with its format) or a file on the
/// device, through VAD-aligned 30 s windows of Whisper. Streams each segment as it is decoded; the final result holds
/// the full text. Each transcription takes its turn on the model through the shared scheduler, at interactive
/// priority: ahead of meeting backlog.
/// </summary>
internal sealed class AsrTranscribeMethod(SpeechModels speech, ModelPaths paths, AsrRequests requests, DeviceMetrics metrics, TimeProvider time)
    : StreamingRpcHandler<AsrTranscribeParams, AsrTranscribeDelta, AsrTranscribeResult>(RpcMethods.AsrTranscribe)
{
    /// <summary>Audio requests are larger than commands: 16 MiB holds about 4 minutes of 16 kHz PCM in base64.</summary>
    public const int MaxAudioPayloadBytes = 16 * 1024 * 1024;

    public override int? MaxPayloadBytes => MaxAudioPayloadBytes;

    /// <summary>A transcription depends on its request alone: any hub of a fleet may serve it.</summary>
    public override bool FleetServed => true;

    protected override async Task<RpcResult<AsrTranscribeResult>> HandleAsync(AsrTranscribeParams p, RpcCall call, CancellationToken cancellationToken)
    {
        await speech.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (speech.Transcriber is not { } transcriber)
        {
            return Fail(RpcErrorCodes.Unavailable, $"no speech recognition model: {speech.TranscriberProblem}");
        }

        if (WhisperLanguages.Resolve(p.Language, speech.Transcription.Languages, out var language) is { } languageProblem)
        {
            return Fail(RpcErrorCodes.InvalidParams, languageProblem);
        }

        var (audio, readError) = Read(p);
        if (audio is null)
        {
            return Fail(RpcErrorCodes.InvalidParams, readError!);
        }

        var requestId = p.RequestId ?? Guid.NewGuid().ToString("N");
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!requests.TryAdd(requestId, cancel))
        {
            return Fail(RpcErrorCodes.InvalidParams, $"a transcription with requestId '{requestId}' is already running");
        }

        try
        {
            using (await speech.Scheduler.AcquireAsync(requestId, TranscriptionPriority.Interactive, cancel.Token).ConfigureAwait(false))
            {
                return await TranscribeAsync(call, transcriber, audio, p with { Language = language }, requestId, cancel.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Ok(new AsrTranscribeResult { RequestId = requestId, Cancelled = true, Text = "", Segments = [] });
        }
        finally
        {
            requests.TryRemove(requestId, out _);
        }
    }

    private async Task<RpcResult<AsrTranscribeResult>> TranscribeAsync(RpcCall call, WhisperTranscriber transcriber, DecodedAudio audio, AsrTranscribeParams p, string requestId, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var vad = speech.CreateVad();
        IReadOnlyList<SpeechSegment> speechSegments;
        using (vad.Detector)
        {
            speechSegments = VoiceActivity.Segments(vad.Detector, audio.Samples);
        }

        await SendAsync(call, new AsrStarted(requestId, audio.Duration.TotalSeconds, speechSegments.Count, vad.Detector.Kind), cancellationToken).ConfigureAwait(false);
        var options = new TranscriptionOptions
        {
            Settings = speech.Transcription,
            Language = p.Language,
            Timestamps = p.Timestamps ?? false,
            BeamSize = p.BeamSize ?? 1,
            Speech = speechSegments,
        };
        var segments = new List<AsrSegment>();
        await foreach (var item in transcriber.StreamAsync(audio.Samples, options, cancellationToken).ConfigureAwait(false))
        {
            switch (item)
            {
                case RecognizedSegmentEvent { Segment: var recognized }:
                    var segment = new AsrSegment(recognized.Start.TotalSeconds, recognized.End.TotalSeconds, recognized.Text, recognized.Language, recognized.Window);
                    segments.Add(segment);
                    await SendAsync(call, segment, cancellationToken).ConfigureAwait(false);
                    break;
                case TranscriptionFailed { Error: var error }:
                    return Fail(
                        error.Code is SpeechErrorCode.UnknownLanguage or SpeechErrorCode.EmptyAudio or SpeechErrorCode.InvalidOptions ? RpcErrorCodes.InvalidParams : RpcErrorCodes.TranscriptionFailed,
                        error.Message);
                case TranscriptionCompleted completed:
                    var elapsed = time.GetElapsedTime(started);
                    var realTimeFactor = audio.Duration.TotalSeconds > 0 ? Math.Round(elapsed.TotalSeconds / audio.Duration.TotalSeconds, 4) : 0;
                    if (!completed.Cancelled && realTimeFactor > 0)
                    {
                        metrics.RecordRealTimeFactor(realTimeFactor);
                    }

                    return Ok(new AsrTranscribeResult
                    {
                        RequestId = requestId,
                        Cancelled = completed.Cancelled,
                        Text = string.Join(" ", segments.Select(s => s.Text.Trim()).Where(t => t.Length > 0)),
                        Language = segments.Count > 0 ? segments[^1].Language : null,
                        Segments = segments,
                        Windows = completed.Windows,
                        DurationSeconds = audio.Duration.TotalSeconds,
                        RealTimeFactor = realTimeFactor,
                        FramesSkipped = audio.FramesSkipped,
                        Warnings = audio.Warnings.Count > 0 ? audio.Warnings : null,
                    });
            }
        }

        return Fail(RpcErrorCodes.Internal, "the transcription ended without a result");
    }

    private (DecodedAudio? Audio, string? Error) Read(AsrTranscribeParams p)
    {
        if ((p.Audio is null) == (p.Path is null))
        {
            return (null, "give exactly one of \"audio\" (base64 bytes) or \"path\" (a file on the device)");
        }

        return p.Path is { } path
            ? RequestAudio.Decoded(AudioFile.ReadMono16k(paths.Resolve(path)))
            : RequestAudio.Decode(p.Audio!, p.Format, p.SampleRate, p.Channels);
    }
}

/// <summary>Audio carried in a request as base64: a file (WAV, MP3, Ogg Opus) or raw PCM with its format, to 16 kHz mono.</summary>
internal static class RequestAudio
{
    /// <summary>Decodes <paramref name="base64"/>; the error, in words for the caller, when it cannot be used.</summary>
    /// <param name="base64">The bytes in base64.</param>
    /// <param name="format">One of <see cref="AsrAudioFormats"/>; null detects a file format from the bytes.</param>
    /// <param name="sampleRate">Samples per second of raw PCM; 16000 when null.</param>
    /// <param name="channels">Interleaved channels of raw PCM; 1 when null.</param>
    public static (DecodedAudio? Audio, string? Error) Decode(string base64, string? format, int? sampleRate, int? channels)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return (null, "\"audio\" is not valid base64");
        }

        using var stream = new MemoryStream(bytes);
        switch (format)
        {
            case null or AsrAudioFormats.Wav or AsrAudioFormats.Mp3 or AsrAudioFormats.Ogg:
                return Decoded(AudioFile.ReadMono16k(stream));
            case AsrAudioFormats.S16LE or AsrAudioFormats.F32LE:
                var pcmFormat = new PcmFormat(sampleRate ?? SpeechAudio.SampleRate, channels ?? 1, format == AsrAudioFormats.S16LE ? PcmEncoding.S16LE : PcmEncoding.F32LE);
                if (!pcmFormat.IsValid)
                {
                    return (null, $"raw PCM needs a sample rate of {PcmFormat.MinSampleRate}-{PcmFormat.MaxSampleRate} Hz and 1-{PcmFormat.MaxChannels} channels");
                }

                var raw = Decoded(AudioFile.ReadRawPcm(stream, pcmFormat));
                return raw.Audio is { } pcm ? (AudioFile.ToMono16k(pcm), null) : raw;
            default:
                return (null, $"unknown audio format '{format}': use {string.Join(", ", AsrAudioFormats.All)}");
        }
    }

    /// <summary>The audio of <paramref name="result"/>, or why it could not be read.</summary>
    public static (DecodedAudio? Audio, string? Error) Decoded(AudioReadResult result) =>
        result.Succeeded ? (result.Audio, null) : (null, $"cannot read the audio ({result.Error}): {result.Message}");
}

/// <summary>The transcriptions in work, by request id, so <c>asr.cancel</c> can stop one.</summary>
internal sealed class AsrRequests : ConcurrentDictionary<string, CancellationTokenSource>;

/// <summary><c>asr.cancel</c> <c>{"requestId"}</c>: stops a transcription at its next decoder step.</summary>
internal sealed class AsrCancelMethod(AsrRequests requests) : RpcHandler<RequestIdParams, CancelResult>(RpcMethods.AsrCancel)
{
    protected override async Task<RpcResult<CancelResult>> HandleAsync(RequestIdParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (parameters.RequestId is not { } id)
        {
            return Fail(RpcErrorCodes.InvalidParams, "asr.cancel needs {\"requestId\": \"...\"}");
        }

        if (!requests.TryGetValue(id, out var cancel))
        {
            return Ok(new CancelResult(false));
        }

        try
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            return Ok(new CancelResult(true));
        }
        catch (ObjectDisposedException)
        {
            return Ok(new CancelResult(false)); // it finished just now
        }
    }
}
