namespace Appliance.Audio;

/// <summary>
/// Decodes a stream of independent encoded frames (one MQTT message, one Opus packet) into interleaved float
/// samples in [-1, 1]. A decoder belongs to one stream: it may keep codec state between frames, so frames must be
/// given in order and instances are not thread-safe.
/// </summary>
public interface IAudioFrameDecoder
{
    /// <summary>Sample rate of the decoded samples, in Hz.</summary>
    int SampleRate { get; }

    /// <summary>Number of interleaved channels in the decoded samples.</summary>
    int Channels { get; }

    /// <summary>Frames decoded so far.</summary>
    long FramesDecoded { get; }

    /// <summary>Frames skipped (empty, truncated, corrupt) so far.</summary>
    long FramesSkipped { get; }

    /// <summary>
    /// The most interleaved samples <see cref="TryDecode"/> can write for a frame of <paramref name="frameByteCount"/>
    /// bytes; size the destination with it.
    /// </summary>
    int GetMaxDecodedLength(int frameByteCount);

    /// <summary>
    /// Decodes one frame into <paramref name="destination"/> (interleaved). A malformed frame is skipped and counted,
    /// and the result says why; it never throws for bad frame content.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than
    /// <see cref="GetMaxDecodedLength"/> for this frame (a caller bug).</exception>
    FrameDecodeResult TryDecode(ReadOnlySpan<byte> frame, Span<float> destination);

    /// <summary>
    /// Tells the decoder that <paramref name="count"/> frames never arrived before the next one it is given, so that it
    /// does not join data across the gap (the caller puts the gap on the timeline).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    void FramesLost(int count);

    /// <summary>
    /// Fills in <paramref name="count"/> frames that never arrived just before <paramref name="nextFrame"/>, as the
    /// codec can reconstruct them, into <paramref name="destination"/> (interleaved). Returns the samples per channel
    /// written: all of the lost frames, or 0 when the codec cannot conceal them (raw PCM, an unreadable next frame, a
    /// destination too short) and the caller puts silence on the timeline instead. It never throws for bad frame
    /// content.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive.</exception>
    int ConcealLost(int count, ReadOnlySpan<byte> nextFrame, Span<float> destination);
}
