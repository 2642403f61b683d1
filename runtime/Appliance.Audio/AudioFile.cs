namespace Appliance.Audio;

/// <summary>
/// Reads whole recordings (uploads, test clips): WAV, Ogg Opus and MP3 are told apart by their first bytes, raw PCM
/// needs its format stated. Expected failures (empty, unrecognised, lying header, truncated) come back in the
/// <see cref="AudioReadResult"/>; corrupt frames inside a file are skipped and counted. All members are thread-safe.
/// </summary>
public static class AudioFile
{
    /// <summary>Reads and decodes a file at its own rate and channel count.</summary>
    /// <exception cref="IOException">The file exists but cannot be read (permissions, I/O error).</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be opened.</exception>
    public static AudioReadResult Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            return AudioReadResult.Failure(AudioFileError.NotFound, $"No file at '{path}'.");
        }

        using var stream = File.OpenRead(path);
        return Read(stream);
    }

    /// <summary>
    /// Reads and decodes a stream from its current position to its end, at the audio's own rate and channel count.
    /// The stream is not disposed; a non-seekable stream is first copied into memory.
    /// </summary>
    /// <exception cref="IOException">Reading the stream failed.</exception>
    public static AudioReadResult Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var owned = stream.CanSeek ? null : CopyToMemory(stream);
        var source = owned ?? stream;

        var start = source.Position;
        Span<byte> magic = stackalloc byte[12];
        var length = source.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
        source.Position = start;
        magic = magic[..length];

        if (length == 0)
        {
            return AudioReadResult.Failure(AudioFileError.Empty, "The file is empty.");
        }

        if (length >= 12 && (magic.StartsWith("RIFF"u8) || magic.StartsWith("RF64"u8)) && magic[8..12].SequenceEqual("WAVE"u8))
        {
            return WavDecoder.Read(source);
        }

        if (length >= 4 && magic.StartsWith("OggS"u8))
        {
            return OggOpusDecoder.Read(source);
        }

        if ((length >= 3 && magic.StartsWith("ID3"u8)) || (length >= 2 && IsMpegSync(magic)))
        {
            return Mp3Decoder.Read(source);
        }

        if (magic.StartsWith("RIFF"u8) || magic.StartsWith("RF64"u8))
        {
            return AudioReadResult.Failure(AudioFileError.InvalidHeader, "RIFF header is cut short or is not WAVE.");
        }

        return AudioReadResult.Failure(AudioFileError.UnrecognizedFormat, "The bytes are not WAV, Ogg Opus or MP3.");
    }

    /// <summary>Reads a file and converts it to 16 kHz mono (channels averaged, band-limited resampling).</summary>
    /// <exception cref="IOException">As for <see cref="Read(string)"/>.</exception>
    /// <exception cref="UnauthorizedAccessException">As for <see cref="Read(string)"/>.</exception>
    public static AudioReadResult ReadMono16k(string path) => ToMono16k(Read(path));

    /// <summary>Reads a stream and converts it to 16 kHz mono (channels averaged, band-limited resampling).</summary>
    /// <exception cref="IOException">As for <see cref="Read(Stream)"/>.</exception>
    public static AudioReadResult ReadMono16k(Stream stream) => ToMono16k(Read(stream));

    /// <summary>
    /// Reads headerless interleaved PCM in <paramref name="format"/> to the end of the stream. A trailing partial
    /// sample frame is dropped and reported as <see cref="DecodedAudio.IsTruncated"/>; non-finite float samples
    /// are read as silence. The stream is not disposed.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="format"/> is not valid.</exception>
    /// <exception cref="IOException">Reading the stream failed.</exception>
    public static AudioReadResult ReadRawPcm(Stream stream, PcmFormat format)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!format.IsValid)
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unsupported PCM format.");
        }

        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        var bytes = memory.GetBuffer().AsSpan(0, (int)memory.Length);
        if (bytes.IsEmpty)
        {
            return AudioReadResult.Failure(AudioFileError.Empty, "The raw PCM stream is empty.");
        }

        var frames = bytes.Length / format.BlockAlign;
        if (frames == 0)
        {
            return AudioReadResult.Failure(AudioFileError.NoAudio, "The raw PCM stream holds no complete sample frame.");
        }

        var samples = new float[frames * format.Channels];
        var whole = bytes[..(frames * format.BlockAlign)];
        if (format.Encoding == PcmEncoding.S16LE)
        {
            SampleConversion.PcmToFloat(whole, 16, samples);
        }
        else
        {
            SampleConversion.IeeeToFloat(whole, 32, samples);
        }

        var audio = new DecodedAudio(AudioContainer.RawPcm, samples, format.SampleRate, format.Channels, 0, bytes.Length != whole.Length);
        return AudioReadResult.Success(audio);
    }

    /// <summary>Converts decoded audio to 16 kHz mono; returns <paramref name="audio"/> itself when it already is.</summary>
    /// <param name="audio">Decoded audio at any rate and channel count.</param>
    /// <returns>The audio at <see cref="SpeechAudio.SampleRate"/>, one channel.</returns>
    public static DecodedAudio ToMono16k(DecodedAudio audio)
    {
        ArgumentNullException.ThrowIfNull(audio);
        if (audio.Channels == 1 && audio.SampleRate == SpeechAudio.SampleRate)
        {
            return audio;
        }

        var converted = Mono16kConverter.ConvertAll(audio.Samples, audio.SampleRate, audio.Channels);
        return new DecodedAudio(audio.Container, converted, SpeechAudio.SampleRate, 1, audio.FramesSkipped, audio.IsTruncated, audio.Warnings);
    }

    private static AudioReadResult ToMono16k(AudioReadResult result) =>
        result.Audio is { } audio ? AudioReadResult.Success(ToMono16k(audio)) : result;

    private static bool IsMpegSync(ReadOnlySpan<byte> magic) =>
        magic[0] == 0xFF && (magic[1] & 0xE0) == 0xE0 && ((magic[1] >> 1) & 3) != 0;

    private static MemoryStream CopyToMemory(Stream stream)
    {
        var memory = new MemoryStream();
        stream.CopyTo(memory);
        memory.Position = 0;
        return memory;
    }
}
