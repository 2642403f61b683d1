namespace Appliance.Contracts;

/// <summary>The codecs a meeting's audio frames may use, by their wire names, and the formats each accepts.</summary>
public static class AudioCodecs
{
    /// <summary>One Opus packet per frame (RFC 6716), at one of <see cref="OpusSampleRates"/>, one or two channels.</summary>
    public const string Opus = "opus";

    /// <summary>Raw 16-bit little-endian PCM, channels interleaved.</summary>
    public const string PcmS16LE = "pcm_s16le";

    /// <summary>
    /// The sample rates an Opus decoder produces (RFC 6716, section 2), in Hz: those of
    /// <c>Appliance.Audio.OpusFrameDecoder.SampleRates</c>, kept in step by the contract tests.
    /// </summary>
    public static IReadOnlyList<int> OpusSampleRates { get; } = [8000, 12000, 16000, 24000, 48000];

    /// <summary>Why audio in this format cannot be taken, or null when it can.</summary>
    /// <param name="codec">The codec name of the meeting start.</param>
    /// <param name="sampleRate">Samples per second.</param>
    /// <param name="channels">Channels per frame.</param>
    /// <returns>A sentence for an <c>invalid_params</c> error, or null.</returns>
    public static string? Problem(string? codec, int sampleRate, int channels) => codec switch
    {
        Opus when !OpusSampleRates.Contains(sampleRate) || channels is < 1 or > 2 =>
            $"opus needs a sampleRate of {string.Join(", ", OpusSampleRates.SkipLast(1))} or {OpusSampleRates[^1]} and 1 or 2 channels",
        Opus or PcmS16LE => null,
        _ => $"codec must be {Opus} or {PcmS16LE}",
    };
}
