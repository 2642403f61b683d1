using System.Text.Json.Serialization;

namespace Appliance.Contracts;

/// <summary>The parameters of <c>asr.transcribe</c>: exactly one of <see cref="Audio"/> and <see cref="Path"/>.</summary>
public sealed record AsrTranscribeParams
{
    /// <summary>The audio bytes in base64: a WAV, MP3 or Ogg Opus file, or raw PCM (see <see cref="Format"/>).</summary>
    public string? Audio { get; init; }

    /// <summary>A file on the device; relative paths are under <c>Models:Root</c>.</summary>
    public string? Path { get; init; }

    /// <summary>
    /// One of <see cref="AsrAudioFormats"/>: a file (<c>wav</c>, <c>mp3</c> or <c>ogg</c>, detected from the bytes; also
    /// when null), or raw <c>s16le</c>/<c>f32le</c> with <see cref="SampleRate"/> and <see cref="Channels"/>.
    /// </summary>
    public string? Format { get; init; }

    /// <summary>Samples per second of raw PCM; 16000 when null.</summary>
    public int? SampleRate { get; init; }

    /// <summary>Interleaved channels of raw PCM; 1 when null.</summary>
    public int? Channels { get; init; }

    /// <summary>Forces a language (<c>en</c>, <c>fa</c>, <c>ar</c>, <c>zh</c>, …); detected when null.</summary>
    public string? Language { get; init; }

    /// <summary>Decode Whisper's timestamp tokens for finer segments.</summary>
    public bool? Timestamps { get; init; }

    /// <summary>Beam width; 1 (greedy) when null.</summary>
    public int? BeamSize { get; init; }

    /// <summary>The id for <c>asr.cancel</c>; one is generated when null.</summary>
    public string? RequestId { get; init; }
}

/// <summary>The audio formats <c>asr.transcribe</c> takes (<see cref="AsrTranscribeParams.Format"/>).</summary>
public static class AsrAudioFormats
{
    /// <summary>A RIFF WAVE file.</summary>
    public const string Wav = "wav";

    /// <summary>An MP3 file.</summary>
    public const string Mp3 = "mp3";

    /// <summary>An Ogg Opus file.</summary>
    public const string Ogg = "ogg";

    /// <summary>Raw 16-bit little-endian PCM, channels interleaved.</summary>
    public const string S16LE = "s16le";

    /// <summary>Raw 32-bit little-endian float PCM, channels interleaved.</summary>
    public const string F32LE = "f32le";

    /// <summary>Every format, for messages and documentation checks.</summary>
    public static IReadOnlyList<string> All { get; } = [Wav, Mp3, Ogg, S16LE, F32LE];
}

/// <summary>A streamed part of <c>asr.transcribe</c>; the JSON's <c>type</c> is <c>started</c> or <c>segment</c>.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(AsrStarted), "started")]
[JsonDerivedType(typeof(AsrSegment), "segment")]
public abstract record AsrTranscribeDelta;

/// <summary>The audio is decoded and cut into speech segments; transcription starts.</summary>
/// <param name="RequestId">The request's id.</param>
/// <param name="DurationSeconds">Length of the audio, in seconds.</param>
/// <param name="SpeechSegments">Speech segments voice activity detection found.</param>
/// <param name="Vad">The detector used: <c>silero</c> or <c>energy</c>.</param>
public sealed record AsrStarted(string RequestId, double DurationSeconds, int SpeechSegments, string Vad) : AsrTranscribeDelta;

/// <summary>One transcribed segment, streamed as soon as its window is decoded and listed again in the result.</summary>
/// <param name="Start">Start in the audio, in seconds.</param>
/// <param name="End">End in the audio, in seconds.</param>
/// <param name="Text">The text as Whisper wrote it (leading space included).</param>
/// <param name="Language">The language decoded.</param>
/// <param name="Window">The 30 s window it came from, from 0.</param>
public sealed record AsrSegment(double Start, double End, string Text, string Language, int Window) : AsrTranscribeDelta;

/// <summary>The final result of <c>asr.transcribe</c>; a cancelled request has only the first four fields.</summary>
public sealed record AsrTranscribeResult
{
    /// <summary>The request's id.</summary>
    public required string RequestId { get; init; }

    /// <summary>True when <c>asr.cancel</c> stopped it.</summary>
    public required bool Cancelled { get; init; }

    /// <summary>The whole text, segments joined by spaces.</summary>
    public required string Text { get; init; }

    /// <summary>Every segment, in order.</summary>
    public required IReadOnlyList<AsrSegment> Segments { get; init; }

    /// <summary>The language of the last segment.</summary>
    public string? Language { get; init; }

    /// <summary>Windows decoded.</summary>
    public int? Windows { get; init; }

    /// <summary>Length of the audio, in seconds.</summary>
    public double? DurationSeconds { get; init; }

    /// <summary>Processing time divided by audio duration, rounded to 0.0001.</summary>
    public double? RealTimeFactor { get; init; }

    /// <summary>Frames of the container that could not be decoded and were skipped.</summary>
    public int? FramesSkipped { get; init; }

    /// <summary>
    /// What was odd about the audio file but did not stop it being decoded, one sentence each (for example a WAV
    /// byte rate that contradicts its sample format, or chained Ogg links); absent when there was nothing.
    /// </summary>
    public IReadOnlyList<string>? Warnings { get; init; }
}
