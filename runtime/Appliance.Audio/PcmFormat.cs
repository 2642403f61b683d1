namespace Appliance.Audio;

/// <summary>Sample encodings accepted for raw (headerless) PCM.</summary>
public enum PcmEncoding
{
    /// <summary>Signed 16-bit little-endian integers.</summary>
    S16LE,

    /// <summary>32-bit IEEE float little-endian, nominally in [-1, 1].</summary>
    F32LE,
}

/// <summary>The layout of raw interleaved PCM: what a sender states in the frame's user properties.</summary>
/// <param name="SampleRate">Samples per second per channel, 1000 to 384000.</param>
/// <param name="Channels">Interleaved channels, 1 to 32.</param>
/// <param name="Encoding">Sample encoding.</param>
public readonly record struct PcmFormat(int SampleRate, int Channels, PcmEncoding Encoding)
{
    /// <summary>Lowest sample rate accepted anywhere in this library.</summary>
    public const int MinSampleRate = 1000;

    /// <summary>Highest sample rate accepted anywhere in this library.</summary>
    public const int MaxSampleRate = 384_000;

    /// <summary>Most channels accepted anywhere in this library.</summary>
    public const int MaxChannels = 32;

    /// <summary>Bytes in one sample of one channel.</summary>
    public int BytesPerSample => Encoding == PcmEncoding.S16LE ? 2 : 4;

    /// <summary>Bytes in one sample frame (one sample of every channel).</summary>
    public int BlockAlign => BytesPerSample * Channels;

    /// <summary>True when rate and channel count are within the accepted ranges and the encoding is known.</summary>
    public bool IsValid =>
        SampleRate is >= MinSampleRate and <= MaxSampleRate
        && Channels is >= 1 and <= MaxChannels
        && Enum.IsDefined(Encoding);
}
