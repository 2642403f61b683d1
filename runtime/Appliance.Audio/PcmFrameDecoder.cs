using System.Buffers.Binary;

namespace Appliance.Audio;

/// <summary>
/// Decodes raw interleaved PCM frames (s16le or f32le) as one byte stream, the way the earbuds' sender cuts it: a
/// frame need not end on a sample boundary, and the bytes of a sample split across two frames are joined (the
/// dangling bytes are carried to the next frame). After frames were lost (<see cref="FramesLost"/>), the stream is
/// realigned by assuming the lost frames had the length of the last one received: the bytes of a sample whose start
/// was lost are dropped. A float frame holding NaN or infinity is skipped and counted. Not thread-safe; one instance
/// per stream.
/// </summary>
public sealed class PcmFrameDecoder : IAudioFrameDecoder
{
    private readonly PcmFormat _format;
    private readonly byte[] _carry;
    private int _carryCount;
    private long _position;
    private int _lastFrameBytes;
    private bool _realign;

    /// <summary>Creates a decoder for frames in <paramref name="format"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="format"/> is not <see cref="PcmFormat.IsValid"/>.</exception>
    public PcmFrameDecoder(PcmFormat format)
    {
        if (!format.IsValid)
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unsupported PCM format.");
        }

        _format = format;
        _carry = new byte[format.BlockAlign];
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
        return (frameByteCount + _format.BlockAlign - 1) / _format.BytesPerSample;
    }

    /// <inheritdoc />
    /// <remarks>A frame that completes no sample frame (its bytes are all carried) is decoded with 0 samples.</remarks>
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

        var blockAlign = _format.BlockAlign;
        var bytes = frame;
        if (_realign)
        {
            // The frame's first bytes finish a sample whose start was lost.
            var partial = (int)((blockAlign - (_position % blockAlign)) % blockAlign);
            bytes = bytes[Math.Min(partial, bytes.Length)..];
            _realign = false;
        }

        _position += frame.Length;
        _lastFrameBytes = frame.Length;
        var written = 0;
        if (_carryCount > 0)
        {
            var take = Math.Min(blockAlign - _carryCount, bytes.Length);
            bytes[..take].CopyTo(_carry.AsSpan(_carryCount));
            _carryCount += take;
            bytes = bytes[take..];
            if (_carryCount == blockAlign)
            {
                written += Convert(_carry, destination);
                _carryCount = 0;
            }
        }

        var whole = bytes.Length / blockAlign * blockAlign;
        written += Convert(bytes[..whole], destination[written..]);
        bytes[whole..].CopyTo(_carry.AsSpan(_carryCount));
        _carryCount += bytes.Length - whole;

        if (_format.Encoding == PcmEncoding.F32LE && !SampleConversion.AllFinite(destination[..written]))
        {
            destination[..written].Clear();
            return Skip(FrameSkipReason.InvalidSamples);
        }

        FramesDecoded++;
        return FrameDecodeResult.Decoded(written / _format.Channels);
    }

    /// <inheritdoc />
    public void FramesLost(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0)
        {
            return;
        }

        _position += (long)count * _lastFrameBytes;
        _carryCount = 0;
        _realign = true;
    }

    /// <inheritdoc />
    /// <remarks>Raw PCM holds nothing to rebuild a lost frame from: always 0, and the caller puts silence in its place.</remarks>
    public int ConcealLost(int count, ReadOnlySpan<byte> nextFrame, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        return 0;
    }

    private int Convert(ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        var count = bytes.Length / _format.BytesPerSample;
        if (_format.Encoding == PcmEncoding.S16LE)
        {
            SampleConversion.S16ToFloat(bytes, destination[..count]);
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                destination[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * 4, 4));
            }
        }

        return count;
    }

    private FrameDecodeResult Skip(FrameSkipReason reason)
    {
        FramesSkipped++;
        return FrameDecodeResult.Skipped(reason);
    }
}
