using Concentus;
using Concentus.Structs;

namespace Appliance.Audio;

/// <summary>
/// Decodes Opus packets, one packet per frame, as earbuds send them: with libopus, the reference decoder, where the
/// board has it (<see cref="Implementation"/> says which), otherwise with Concentus's managed port, which runs
/// anywhere but at 16 and 24 kHz turns Hybrid packets (SILK with CELT) into near silence, so decode at 48 kHz where
/// only Concentus may be present. A packet the codec rejects is skipped and counted. Opus keeps state across packets:
/// give them in order, one instance per stream; not thread-safe. The owner disposes it.
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

    private readonly OpusLibrary.Decoder? _native;
    private readonly IOpusDecoder? _managed;
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
        if (OpusLibrary.IsAvailable)
        {
            _native = new OpusLibrary.Decoder(sampleRate, channels, _maxSamplesPerChannel);
        }
        else
        {
            _managed = OpusCodecFactory.CreateDecoder(sampleRate, channels);
        }
    }

    /// <summary>The decoder in use: libopus's version string (<c>libopus 1.3.1</c>), or Concentus's managed port.</summary>
    public static string Implementation => OpusLibrary.Version ?? "Concentus (managed port)";

    /// <inheritdoc />
    public int SampleRate { get; }

    /// <inheritdoc />
    public int Channels { get; }

    /// <inheritdoc />
    public long FramesDecoded { get; private set; }

    /// <inheritdoc />
    public long FramesSkipped { get; private set; }

    /// <summary>Applies the output gain an Ogg Opus header asks for, in Q7.8 dB (RFC 7845, section 5.1).</summary>
    internal void SetGain(int gain)
    {
        _native?.SetGain(gain);
        if (_managed is not null)
        {
            _managed.Gain = gain;
        }
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

            samplesPerChannel = _native?.Decode(frame, destination, _maxSamplesPerChannel, Channels)
                ?? _managed!.Decode(frame, destination, _maxSamplesPerChannel, false);
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

        return _native?.Decode(ReadOnlySpan<byte>.Empty, destination, samplesPerChannel, Channels)
            ?? _managed!.Decode(ReadOnlySpan<byte>.Empty, destination, samplesPerChannel, false);
    }

    /// <inheritdoc />
    /// <remarks>Opus keeps no data across packets that a gap could split; the caller puts the gap on the timeline.</remarks>
    public void FramesLost(int count) => ArgumentOutOfRangeException.ThrowIfNegative(count);

    /// <inheritdoc />
    /// <remarks>
    /// Each lost packet is taken to be as long as <paramref name="nextFrame"/>. The last one is decoded from the in-band
    /// forward error correction data of <paramref name="nextFrame"/> (an encoder that expects loss sends a coarse copy
    /// of the previous frame), and the others, or the last when the packet carries none, by packet-loss concealment:
    /// libopus's own calls for a loss (opus_decode with decode_fec set, then without data), so the samples are the
    /// reference decoder's. Give <paramref name="nextFrame"/> to <see cref="TryDecode"/> afterwards as usual.
    /// </remarks>
    public int ConcealLost(int count, ReadOnlySpan<byte> nextFrame, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        int frameSamples;
        try
        {
            frameSamples = OpusPacketInfo.GetNumSamples(nextFrame, SampleRate);
        }
        catch (OpusException)
        {
            return 0; // the next packet is unreadable too: nothing tells the lost ones' length
        }

        if (frameSamples <= 0 || frameSamples > _maxSamplesPerChannel || count * frameSamples * Channels > destination.Length)
        {
            return 0;
        }

        for (var i = 0; i < count; i++)
        {
            var slot = destination.Slice(i * frameSamples * Channels, frameSamples * Channels);
            var last = i == count - 1 && nextFrame.Length > MaxDtxPacketBytes;
            var written = _native?.Decode(last ? nextFrame : ReadOnlySpan<byte>.Empty, slot, frameSamples, Channels, fec: last)
                ?? _managed!.Decode(last ? nextFrame : ReadOnlySpan<byte>.Empty, slot, frameSamples, last);
            if (written != frameSamples)
            {
                return 0; // all or nothing: the caller then puts silence of the whole gap
            }
        }

        return count * frameSamples;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _native?.Dispose();
        _managed?.Dispose();
    }

    private FrameDecodeResult Skip(FrameSkipReason reason)
    {
        FramesSkipped++;
        return FrameDecodeResult.Skipped(reason);
    }
}
