using System.Buffers;

namespace Appliance.Audio;

/// <summary>
/// The one conversion to <see cref="SpeechAudio"/>'s format (16 kHz mono), the input of VAD, wake word and Whisper:
/// average the channels, resample with a <see cref="Resampler"/> that keeps its state across pushes. It takes encoded
/// frames (through an <see cref="IAudioFrameDecoder"/>: meeting audio) or interleaved float samples (a microphone's
/// chunks, a decoded file). One instance per stream, pushes in order; not thread-safe. It does not own the decoder.
/// </summary>
public sealed class Mono16kConverter
{
    private readonly IAudioFrameDecoder? _decoder;
    private readonly Resampler? _resampler;

    /// <summary>A converter for encoded frames read with <paramref name="decoder"/>.</summary>
    /// <param name="decoder">The stream's decoder; the caller keeps it.</param>
    /// <exception cref="ArgumentOutOfRangeException">The decoder's rate cannot be resampled (see <see cref="Resampler"/>).</exception>
    public Mono16kConverter(IAudioFrameDecoder decoder)
        : this(decoder?.SampleRate ?? throw new ArgumentNullException(nameof(decoder)), decoder.Channels)
    {
        _decoder = decoder;
    }

    /// <summary>A converter for interleaved float samples at <paramref name="sampleRate"/> with <paramref name="channels"/> channels.</summary>
    /// <param name="sampleRate">Input samples per second.</param>
    /// <param name="channels">Interleaved input channels, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">The rate cannot be resampled, or no channel.</exception>
    public Mono16kConverter(int sampleRate, int channels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        SampleRate = sampleRate;
        Channels = channels;
        _resampler = sampleRate == SpeechAudio.SampleRate ? null : new Resampler(sampleRate, SpeechAudio.SampleRate);
    }

    /// <summary>The input rate, in Hz.</summary>
    public int SampleRate { get; }

    /// <summary>The input channels.</summary>
    public int Channels { get; }

    /// <summary>Frames skipped by the decoder so far (0 without one).</summary>
    public long FramesSkipped => _decoder?.FramesSkipped ?? 0;

    /// <summary>Frames decoded so far (0 without a decoder).</summary>
    public long FramesDecoded => _decoder?.FramesDecoded ?? 0;

    /// <summary>Converts a whole clip at once (a new stream, flushed at the end).</summary>
    /// <param name="interleaved">The clip's samples, channels interleaved.</param>
    /// <param name="sampleRate">Its samples per second.</param>
    /// <param name="channels">Its channels.</param>
    /// <returns>The clip at 16 kHz mono.</returns>
    public static float[] ConvertAll(ReadOnlySpan<float> interleaved, int sampleRate, int channels)
    {
        var converter = new Mono16kConverter(sampleRate, channels);
        var output = new ArrayBufferWriter<float>(Math.Max(1, converter.MaxOutputLength(interleaved.Length / channels) + converter.MaxOutputLength(0)));
        converter.PushSamples(interleaved, output);
        converter.Flush(output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decodes one frame and appends the 16 kHz mono samples that are complete to <paramref name="output"/> (the
    /// resampler holds back a few milliseconds of look-ahead until the next push or <see cref="Flush"/>). A bad frame is
    /// skipped, counted and reported in the result; nothing is written for it.
    /// </summary>
    /// <param name="frame">One encoded frame.</param>
    /// <param name="output">Receives the samples.</param>
    /// <returns>What the decoder made of the frame.</returns>
    /// <exception cref="InvalidOperationException">The converter was made for samples, not frames.</exception>
    public FrameDecodeResult Push(ReadOnlySpan<byte> frame, IBufferWriter<float> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var decoder = _decoder ?? throw new InvalidOperationException("This converter takes samples; make it with a decoder to push frames.");
        var decodedLength = decoder.GetMaxDecodedLength(frame.Length);
        var decoded = ArrayPool<float>.Shared.Rent(Math.Max(decodedLength, 1));
        try
        {
            var result = decoder.TryDecode(frame, decoded.AsSpan(0, decodedLength));
            if (result.IsDecoded)
            {
                PushSamples(decoded.AsSpan(0, result.SamplesPerChannel * Channels), output);
            }

            return result;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(decoded);
        }
    }

    /// <summary>
    /// Reconstructs <paramref name="count"/> frames lost just before <paramref name="nextFrame"/> as the codec can
    /// (<see cref="IAudioFrameDecoder.ConcealLost"/>) and appends their 16 kHz mono samples to <paramref name="output"/>.
    /// </summary>
    /// <param name="count">Frames lost, at least 1.</param>
    /// <param name="nextFrame">The frame that arrived after them; push it afterwards as usual.</param>
    /// <param name="output">Receives the samples.</param>
    /// <returns>False, with nothing written, when the codec cannot conceal them: the caller puts silence in their place.</returns>
    /// <exception cref="InvalidOperationException">The converter was made for samples, not frames.</exception>
    public bool PushConcealed(int count, ReadOnlySpan<byte> nextFrame, IBufferWriter<float> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var decoder = _decoder ?? throw new InvalidOperationException("This converter takes samples; make it with a decoder to conceal frames.");
        var length = count * decoder.GetMaxDecodedLength(nextFrame.Length);
        var concealed = ArrayPool<float>.Shared.Rent(Math.Max(length, 1));
        try
        {
            var samplesPerChannel = decoder.ConcealLost(count, nextFrame, concealed.AsSpan(0, length));
            if (samplesPerChannel > 0)
            {
                PushSamples(concealed.AsSpan(0, samplesPerChannel * Channels), output);
            }

            return samplesPerChannel > 0;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(concealed);
        }
    }

    /// <summary>Appends the 16 kHz mono samples of <paramref name="interleaved"/> that are complete to <paramref name="output"/>.</summary>
    /// <param name="interleaved">Samples at <see cref="SampleRate"/>, <see cref="Channels"/> interleaved (a partial last frame is ignored).</param>
    /// <param name="output">Receives the samples.</param>
    public void PushSamples(ReadOnlySpan<float> interleaved, IBufferWriter<float> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var frames = interleaved.Length / Channels;
        var mono = Channels == 1 ? null : ArrayPool<float>.Shared.Rent(Math.Max(frames, 1));
        try
        {
            ReadOnlySpan<float> samples = interleaved[..frames];
            if (mono is not null)
            {
                SampleConversion.Downmix(interleaved[..(frames * Channels)], Channels, mono);
                samples = mono.AsSpan(0, frames);
            }

            if (_resampler is null)
            {
                samples.CopyTo(output.GetSpan(samples.Length));
                output.Advance(samples.Length);
                return;
            }

            var destination = output.GetSpan(_resampler.GetMaxOutputLength(samples.Length));
            output.Advance(_resampler.Process(samples, destination));
        }
        finally
        {
            if (mono is not null)
            {
                ArrayPool<float>.Shared.Return(mono);
            }
        }
    }

    /// <summary>Ends the stream: appends the samples held back for look-ahead. Use a new instance for a new stream.</summary>
    /// <param name="output">Receives the samples.</param>
    public void Flush(IBufferWriter<float> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_resampler is not null)
        {
            var destination = output.GetSpan(_resampler.GetMaxOutputLength(0));
            output.Advance(_resampler.Flush(destination));
        }
    }

    private int MaxOutputLength(int inputFrames) => _resampler?.GetMaxOutputLength(inputFrames) ?? inputFrames;
}
