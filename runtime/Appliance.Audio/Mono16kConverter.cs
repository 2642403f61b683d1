using System.Buffers;

namespace Appliance.Audio;

/// <summary>
/// Turns a stream of encoded frames into 16 kHz mono float samples, the input of VAD and Whisper: decode with an
/// <see cref="IAudioFrameDecoder"/>, average the channels, resample with a <see cref="Resampler"/> that keeps its
/// state across frames. One instance per stream, frames in order; not thread-safe. It does not own the decoder.
/// </summary>
public sealed class Mono16kConverter
{
    /// <summary>The output sample rate, 16 kHz.</summary>
    public const int SampleRate = 16000;

    private readonly IAudioFrameDecoder _decoder;
    private readonly Resampler _resampler;

    /// <summary>Creates a converter reading from <paramref name="decoder"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The decoder's rate cannot be resampled (see <see cref="Resampler"/>).</exception>
    public Mono16kConverter(IAudioFrameDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        _decoder = decoder;
        _resampler = new Resampler(decoder.SampleRate, SampleRate);
    }

    /// <summary>Frames skipped by the decoder so far.</summary>
    public long FramesSkipped => _decoder.FramesSkipped;

    /// <summary>Frames decoded so far.</summary>
    public long FramesDecoded => _decoder.FramesDecoded;

    /// <summary>
    /// Decodes one frame and appends the 16 kHz mono samples that are complete to <paramref name="output"/>
    /// (the resampler holds back a few milliseconds of look-ahead until the next frame or <see cref="Flush"/>).
    /// A bad frame is skipped, counted and reported in the result; nothing is written for it.
    /// </summary>
    public FrameDecodeResult Push(ReadOnlySpan<byte> frame, IBufferWriter<float> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var decodedLength = _decoder.GetMaxDecodedLength(frame.Length);
        var decoded = ArrayPool<float>.Shared.Rent(Math.Max(decodedLength, 1));
        try
        {
            var result = _decoder.TryDecode(frame, decoded.AsSpan(0, decodedLength));
            if (result.IsDecoded)
            {
                var mono = decoded.AsSpan(0, result.SamplesPerChannel);
                SampleConversion.Downmix(decoded.AsSpan(0, result.SamplesPerChannel * _decoder.Channels), _decoder.Channels, mono);
                var destination = output.GetSpan(_resampler.GetMaxOutputLength(mono.Length));
                output.Advance(_resampler.Process(mono, destination));
            }

            return result;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(decoded);
        }
    }

    /// <summary>Ends the stream: appends the samples held back for look-ahead. Use a new instance for a new stream.</summary>
    public void Flush(IBufferWriter<float> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var destination = output.GetSpan(_resampler.GetMaxOutputLength(0));
        output.Advance(_resampler.Flush(destination));
    }
}
