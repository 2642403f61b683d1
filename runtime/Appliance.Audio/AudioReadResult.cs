namespace Appliance.Audio;

/// <summary>Why a whole file could not be read.</summary>
public enum AudioFileError
{
    /// <summary>No error.</summary>
    None,

    /// <summary>The file does not exist.</summary>
    NotFound,

    /// <summary>The file or stream holds no bytes.</summary>
    Empty,

    /// <summary>The bytes are not WAV, Ogg Opus or MP3.</summary>
    UnrecognizedFormat,

    /// <summary>The header is cut short or contradicts itself (rate, block size, byte rate, chunk layout).</summary>
    InvalidHeader,

    /// <summary>A well-formed file in an encoding this library does not decode (e.g. ADPCM WAV, multichannel Ogg Opus).</summary>
    UnsupportedEncoding,

    /// <summary>The file decoded to no samples at all.</summary>
    NoAudio,
}

/// <summary>The kind of file the audio was read from.</summary>
public enum AudioContainer
{
    /// <summary>RIFF/WAVE.</summary>
    Wav,

    /// <summary>Ogg Opus.</summary>
    OggOpus,

    /// <summary>MPEG audio (MP3).</summary>
    Mp3,

    /// <summary>Headerless PCM.</summary>
    RawPcm,
}

/// <summary>Decoded audio: interleaved float samples in [-1, 1] with their rate and channel count.</summary>
public sealed class DecodedAudio
{
    internal DecodedAudio(AudioContainer container, float[] samples, int sampleRate, int channels, int framesSkipped, bool isTruncated, IReadOnlyList<string>? warnings = null)
    {
        Warnings = warnings ?? [];
        Container = container;
        Samples = samples;
        SampleRate = sampleRate;
        Channels = channels;
        FramesSkipped = framesSkipped;
        IsTruncated = isTruncated;
    }

    /// <summary>The kind of file the audio came from.</summary>
    public AudioContainer Container { get; }

    /// <summary>Interleaved samples; the caller owns the array.</summary>
    public float[] Samples { get; }

    /// <summary>Sample rate in Hz.</summary>
    public int SampleRate { get; }

    /// <summary>Interleaved channel count.</summary>
    public int Channels { get; }

    /// <summary>Samples per channel.</summary>
    public int Length => Samples.Length / Channels;

    /// <summary>Duration of the audio.</summary>
    public TimeSpan Duration => TimeSpan.FromSeconds((double)Length / SampleRate);

    /// <summary>Corrupt frames, pages or packets that were skipped while decoding (their audio is missing).</summary>
    public int FramesSkipped { get; }

    /// <summary>True when the file ended before its header said it would (the samples present are returned).</summary>
    public bool IsTruncated { get; }

    /// <summary>
    /// What was odd about the file but did not stop it being decoded, one sentence each (for example a WAV byte rate
    /// that contradicts the sample format, or an Ogg stream of several chained links). Empty for a clean file.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; }
}

/// <summary>The result of reading a whole file: the audio, or the reason there is none. Never thrown.</summary>
public sealed class AudioReadResult
{
    private AudioReadResult(DecodedAudio? audio, AudioFileError error, string message)
    {
        Audio = audio;
        Error = error;
        Message = message;
    }

    /// <summary>True when <see cref="Audio"/> holds the decoded audio.</summary>
    public bool Succeeded => Audio is not null;

    /// <summary>The audio, when <see cref="Succeeded"/>.</summary>
    public DecodedAudio? Audio { get; }

    /// <summary>Why reading failed; <see cref="AudioFileError.None"/> on success.</summary>
    public AudioFileError Error { get; }

    /// <summary>A sentence for logs: what was read, or what was wrong.</summary>
    public string Message { get; }

    /// <summary>The audio, or an <see cref="InvalidOperationException"/> naming the error (for callers that treat failure as a bug).</summary>
    /// <exception cref="InvalidOperationException">The read failed.</exception>
    public DecodedAudio GetAudioOrThrow() =>
        Audio ?? throw new InvalidOperationException($"Audio could not be read ({Error}): {Message}");

    internal static AudioReadResult Success(DecodedAudio audio) =>
        new(audio, AudioFileError.None, $"{audio.Container}: {audio.Length} samples at {audio.SampleRate} Hz, {audio.Channels} channel(s)"
            + (audio.FramesSkipped > 0 ? $", {audio.FramesSkipped} corrupt frame(s) skipped" : string.Empty)
            + (audio.IsTruncated ? ", truncated" : string.Empty)
            + (audio.Warnings.Count > 0 ? $"; {string.Join(" ", audio.Warnings)}" : string.Empty));

    internal static AudioReadResult Failure(AudioFileError error, string message) => new(null, error, message);
}
