using System.Buffers.Binary;

namespace Appliance.Audio;

/// <summary>
/// Decodes raw interleaved PCM frames (s16le or f32le). A frame whose length is not a whole number of sample frames,
/// or a float frame holding NaN or infinity, is skipped and counted. Not thread-safe; one instance per stream.
/// </summary>
public sealed class PcmFrameDecoder : IAudioFrameDecoder
{
    private readonly PcmFormat _format;

    /// <summary>Creates a decoder for frames in <paramref name="format"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="format"/> is not <see cref="PcmFormat.IsValid"/>.</exception>
    public PcmFrameDecoder(PcmFormat format)
    {
        if (!format.IsValid)
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unsupported PCM format.");
        }

        _format = format;
    }

    /// <inheritdoc />
    public int SampleRate => _format.SampleRate;

    /// <inheritdoc />
    public int Channels => _format.Channels;

    /// <inheritdoc />
    public long FramesDecoded { get; private set; }

    /// <inheritdoc />
    public long FramesSkipped { get; private set; }

    /// <inheritdoc />
    public int GetMaxDecodedLength(int frameByteCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frameByteCount);
        return frameByteCount / _format.BytesPerSample;
    }

    /// <inheritdoc />
    public FrameDecodeResult TryDecode(ReadOnlySpan<byte> frame, Span<float> destination)
    {
        if (destination.Length < GetMaxDecodedLength(frame.Length))
        {
            throw new ArgumentException("Destination is shorter than GetMaxDecodedLength(frame.Length).", nameof(destination));
        }

        if (frame.IsEmpty)
        {
            return Skip(FrameSkipReason.Empty);
        }

        if (frame.Length % _format.BlockAlign != 0)
        {
            return Skip(FrameSkipReason.Misaligned);
        }

        var count = frame.Length / _format.BytesPerSample;
        var output = destination[..count];
        if (_format.Encoding == PcmEncoding.S16LE)
        {
            SampleConversion.S16ToFloat(frame, output);
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                output[i] = BinaryPrimitives.ReadSingleLittleEndian(frame.Slice(i * 4, 4));
            }

            if (!SampleConversion.AllFinite(output))
            {
                output.Clear();
                return Skip(FrameSkipReason.InvalidSamples);
            }
        }

        FramesDecoded++;
        return FrameDecodeResult.Decoded(count / _format.Channels);
    }

    private FrameDecodeResult Skip(FrameSkipReason reason)
    {
        FramesSkipped++;
        return FrameDecodeResult.Skipped(reason);
    }
}
