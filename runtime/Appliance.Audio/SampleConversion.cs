using System.Buffers.Binary;
using System.Numerics.Tensors;

namespace Appliance.Audio;

/// <summary>Sample-format conversion and channel mixing shared by the decoders.</summary>
internal static class SampleConversion
{
    private const float S8Scale = 1f / 128f;
    private const float S16Scale = 1f / 32768f;
    private const float S24Scale = 1f / 8388608f;
    private const float S32Scale = 1f / 2147483648f;

    public static void S16ToFloat(ReadOnlySpan<byte> source, Span<float> destination)
    {
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = BinaryPrimitives.ReadInt16LittleEndian(source.Slice(i * 2, 2)) * S16Scale;
        }
    }

    /// <summary>Converts little-endian PCM of the given width (8-bit is unsigned, as WAV stores it) to float.</summary>
    public static void PcmToFloat(ReadOnlySpan<byte> source, int bitsPerSample, Span<float> destination)
    {
        switch (bitsPerSample)
        {
            case 8:
                for (var i = 0; i < destination.Length; i++)
                {
                    destination[i] = (source[i] - 128) * S8Scale;
                }

                break;
            case 16:
                S16ToFloat(source, destination);
                break;
            case 24:
                for (var i = 0; i < destination.Length; i++)
                {
                    var o = i * 3;
                    var value = (source[o] | (source[o + 1] << 8) | (source[o + 2] << 16)) << 8 >> 8;
                    destination[i] = value * S24Scale;
                }

                break;
            case 32:
                for (var i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadInt32LittleEndian(source.Slice(i * 4, 4)) * S32Scale;
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(bitsPerSample), bitsPerSample, "Unsupported PCM width.");
        }
    }

    /// <summary>Converts little-endian IEEE float (32 or 64 bits) to float; non-finite values become 0.</summary>
    /// <returns>How many non-finite values were replaced.</returns>
    public static int IeeeToFloat(ReadOnlySpan<byte> source, int bitsPerSample, Span<float> destination)
    {
        var replaced = 0;
        for (var i = 0; i < destination.Length; i++)
        {
            var value = bitsPerSample == 32
                ? BinaryPrimitives.ReadSingleLittleEndian(source.Slice(i * 4, 4))
                : (float)BinaryPrimitives.ReadDoubleLittleEndian(source.Slice(i * 8, 8));
            if (!float.IsFinite(value))
            {
                value = 0f;
                replaced++;
            }

            destination[i] = value;
        }

        return replaced;
    }

    public static bool AllFinite(ReadOnlySpan<float> samples)
    {
        foreach (var value in samples)
        {
            if (!float.IsFinite(value))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Averages interleaved channels into mono. <paramref name="mono"/> must hold
    /// <c>interleaved.Length / channels</c> samples; it may be the start of <paramref name="interleaved"/> (in place).
    /// </summary>
    public static void Downmix(ReadOnlySpan<float> interleaved, int channels, Span<float> mono)
    {
        var frames = interleaved.Length / channels;
        if (channels == 1)
        {
            interleaved[..frames].CopyTo(mono);
            return;
        }

        var scale = 1f / channels;
        if (channels == 2)
        {
            for (var i = 0; i < frames; i++)
            {
                mono[i] = (interleaved[2 * i] + interleaved[(2 * i) + 1]) * scale;
            }

            return;
        }

        for (var i = 0; i < frames; i++)
        {
            mono[i] = TensorPrimitives.Sum(interleaved.Slice(i * channels, channels)) * scale;
        }
    }
}
