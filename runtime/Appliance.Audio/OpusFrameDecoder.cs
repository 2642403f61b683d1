using Concentus;
using Concentus.Structs;

namespace Appliance.Audio;

/// <summary>
/// Decodes Opus packets, one packet per frame, as earbuds send them, with Concentus: its managed decoder, which runs
/// on every board (Concentus switches to a native libopus only where the Concentus.Native package supplies one). A packet the codec rejects is skipped and counted. Opus keeps state
/// across packets: give them in order, one instance per stream; not thread-safe. The owner disposes it. Decode at
/// 48 kHz where the output must be faithful: at 16 and 24 kHz Concentus 2.2 turns Hybrid packets (SILK with CELT)
/// into near silence, where libopus does not.
/// </summary>
public sealed class OpusFrameDecoder : IAudioFrameDecoder, IDisposable
{
    /// <summary>The longest Opus packet duration, 120 ms, in samples per channel at 48 kHz.</summary>
    private const int MaxSamplesPerChannelAt48k = 5760;

    /// <summary>
    /// A packet of at most this many bytes is a TOC byte (and a frame count or length byte) with no frame data: every
    /// frame in it is empty, as an encoder with DTX sends during silence.
    /// </summary>
    private const int MaxDtxPacketBytes = 2;

    private readonly IOpusDecoder _decoder;
    private readonly int _maxSamplesPerChannel;

    /// <summary>The rates an Opus decoder outputs (RFC 6716, section 2), in Hz; any packet decodes at any of them.</summary>
    public static IReadOnlyList<int> SampleRates { get; } = [8000, 12000, 16000, 24000, 48000];

    /// <summary>Creates a decoder that outputs <paramref name="channels"/> channels at <paramref name="sampleRate"/>.</summary>
    /// <param name="sampleRate">Output rate: one of <see cref="SampleRates"/>.</param>
    /// <param name="channels">Output channels, 1 or 2 (a stereo packet is downmixed when 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate or channel count Opus does not support.</exception>
    public OpusFrameDecoder(int sampleRate, int channels)
    {
        if (!SampleRates.Contains(sampleRate))
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, "Opus decodes at 8, 12, 16, 24 or 48 kHz.");
        }

        if (channels is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Opus decodes to 1 or 2 channels.");
        }

        SampleRate = sampleRate;
        Channels = channels;
        _maxSamplesPerChannel = MaxSamplesPerChannelAt48k / (48000 / sampleRate);
        _decoder = OpusCodecFactory.CreateDecoder(sampleRate, channels);
    }

    /// <inheritdoc />
    public int SampleRate { get; }

    /// <inheritdoc />
    public int Channels { get; }

    /// <inheritdoc />
    public long FramesDecoded { get; private set; }

    /// <inheritdoc />
    public long FramesSkipped { get; private set; }

    /// <summary>Output gain in Q7.8 dB that an Ogg Opus header asks for; applied by the decoder.</summary>
    internal int Gain
    {
        get => _decoder.Gain;
        set => _decoder.Gain = value;
    }

    /// <inheritdoc />
    /// <remarks>Any Opus packet holds at most 120 ms, so the bound does not depend on the frame length.</remarks>
    public int GetMaxDecodedLength(int frameByteCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frameByteCount);
        return _maxSamplesPerChannel * Channels;
    }

    /// <inheritdoc />
    public FrameDecodeResult TryDecode(ReadOnlySpan<byte> frame, Span<float> destination)
    {
        if (destination.Length < _maxSamplesPerChannel * Channels)
        {
            throw new ArgumentException("Destination is shorter than GetMaxDecodedLength().", nameof(destination));
        }

        if (frame.IsEmpty)
        {
            return Skip(FrameSkipReason.Empty);
        }

        int samplesPerChannel;
        try
        {
            var expected = OpusPacketInfo.GetNumSamples(frame, SampleRate);
            if (expected <= 0 || expected > _maxSamplesPerChannel)
            {
                return Skip(FrameSkipReason.Corrupt);
            }

            if (frame.Length <= MaxDtxPacketBytes)
            {
                // Discontinuous transmission: the packet's frames are empty (RFC 6716, section 3.2.1) and stand for
                // their duration of silence, which libopus fills by concealment; they keep the timeline.
                samplesPerChannel = ConcealLoss(expected, destination);
                FramesDecoded++;
                return FrameDecodeResult.Decoded(samplesPerChannel);
            }

            samplesPerChannel = _decoder.Decode(frame, destination, _maxSamplesPerChannel, false);
        }
        catch (OpusException)
        {
            return Skip(FrameSkipReason.Corrupt);
        }

        if (samplesPerChannel <= 0)
        {
            return Skip(FrameSkipReason.Corrupt);
        }

        FramesDecoded++;
        return FrameDecodeResult.Decoded(samplesPerChannel);
    }

    /// <summary>
    /// Fills a gap left by lost packets with Opus packet-loss concealment (use it when sequence numbers show a gap).
    /// </summary>
    /// <param name="samplesPerChannel">Duration of the gap; a multiple of 2.5 ms at <see cref="SampleRate"/>, at most 120 ms.</param>
    /// <param name="destination">Receives <paramref name="samplesPerChannel"/> × <see cref="Channels"/> interleaved samples.</param>
    /// <returns>Samples per channel written.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="samplesPerChannel"/> is not a valid Opus duration.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public int ConcealLoss(int samplesPerChannel, Span<float> destination)
    {
        var quantum = SampleRate / 400;
        if (samplesPerChannel <= 0 || samplesPerChannel > _maxSamplesPerChannel || samplesPerChannel % quantum != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(samplesPerChannel), samplesPerChannel, "Not a multiple of 2.5 ms up to 120 ms.");
        }

        if (destination.Length < samplesPerChannel * Channels)
        {
            throw new ArgumentException("Destination is shorter than samplesPerChannel * Channels.", nameof(destination));
        }

        return _decoder.Decode(ReadOnlySpan<byte>.Empty, destination, samplesPerChannel, false);
    }

    /// <inheritdoc />
    /// <remarks>Opus keeps no data across packets that a gap could split; the caller puts the gap on the timeline.</remarks>
    public void FramesLost(int count) => ArgumentOutOfRangeException.ThrowIfNegative(count);

    /// <inheritdoc />
    public void Dispose() => _decoder.Dispose();

    private FrameDecodeResult Skip(FrameSkipReason reason)
    {
        FramesSkipped++;
        return FrameDecodeResult.Skipped(reason);
    }
}
