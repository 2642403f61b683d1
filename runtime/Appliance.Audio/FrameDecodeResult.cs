namespace Appliance.Audio;

/// <summary>What happened to one encoded frame handed to an <see cref="IAudioFrameDecoder"/>.</summary>
public enum FrameDecodeStatus
{
    /// <summary>The frame was decoded; <see cref="FrameDecodeResult.SamplesPerChannel"/> samples per channel were written.</summary>
    Decoded,

    /// <summary>The frame was dropped and counted; <see cref="FrameDecodeResult.SkipReason"/> says why. Nothing was written.</summary>
    Skipped,
}

/// <summary>Why a frame was skipped.</summary>
public enum FrameSkipReason
{
    /// <summary>The frame was not skipped.</summary>
    None,

    /// <summary>The frame held no bytes.</summary>
    Empty,

    /// <summary>The frame holds samples that are not finite numbers (NaN or infinity in float PCM).</summary>
    InvalidSamples,

    /// <summary>The codec rejected the frame as malformed.</summary>
    Corrupt,
}

/// <summary>
/// The outcome of decoding one frame: a value, never an exception, because corrupt frames are expected on
/// a lossy transport.
/// </summary>
/// <param name="Status">Whether the frame was decoded or skipped.</param>
/// <param name="SamplesPerChannel">Samples per channel written (interleaved) when decoded; 0 when skipped.</param>
/// <param name="SkipReason">Why the frame was skipped; <see cref="FrameSkipReason.None"/> when decoded.</param>
public readonly record struct FrameDecodeResult(FrameDecodeStatus Status, int SamplesPerChannel, FrameSkipReason SkipReason)
{
    /// <summary>True when the frame was decoded.</summary>
    public bool IsDecoded => Status == FrameDecodeStatus.Decoded;

    /// <summary>A decoded frame of <paramref name="samplesPerChannel"/> samples per channel.</summary>
    public static FrameDecodeResult Decoded(int samplesPerChannel) => new(FrameDecodeStatus.Decoded, samplesPerChannel, FrameSkipReason.None);

    /// <summary>A skipped frame.</summary>
    public static FrameDecodeResult Skipped(FrameSkipReason reason) => new(FrameDecodeStatus.Skipped, 0, reason);
}
