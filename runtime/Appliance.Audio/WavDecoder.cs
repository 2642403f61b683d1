using System.Buffers.Binary;
using NAudio.Wave;

namespace Appliance.Audio;

/// <summary>
/// Reads RIFF/WAVE files (PCM 8/16/24/32-bit, IEEE float 32/64-bit, plain or extensible) with NAudio's reader.
/// The stream must be seekable; it is not disposed.
/// </summary>
internal static class WavDecoder
{
    private static readonly Guid PcmSubFormat = new("00000001-0000-0010-8000-00aa00389b71");
    private static readonly Guid FloatSubFormat = new("00000003-0000-0010-8000-00aa00389b71");

    public static AudioReadResult Read(Stream stream)
    {
        // NAudio clamps the data chunk to the bytes present; the declared size tells whether the file was cut short.
        var declaredDataLength = FindDeclaredDataLength(stream);
        WaveFileReader reader;
        try
        {
            reader = new WaveFileReader(stream);
        }
        catch (Exception e) when (e is FormatException or EndOfStreamException or InvalidDataException or ArgumentException)
        {
            return AudioReadResult.Failure(AudioFileError.InvalidHeader, $"WAV header is unreadable: {e.Message}");
        }

        using (reader)
        {
            var format = reader.WaveFormat;
            var isFloat = IsFloat(format);
            if (!isFloat && !IsPcm(format))
            {
                return AudioReadResult.Failure(AudioFileError.UnsupportedEncoding, $"WAV encoding {format.Encoding} is not PCM or IEEE float.");
            }

            var problem = CheckHeader(format, isFloat);
            if (problem is not null)
            {
                return AudioReadResult.Failure(AudioFileError.InvalidHeader, problem);
            }

            var (samples, isTruncated) = ReadSamples(reader, stream, format, isFloat);
            isTruncated |= declaredDataLength > reader.Length;
            if (samples.Length == 0)
            {
                return AudioReadResult.Failure(AudioFileError.NoAudio, "WAV data chunk holds no complete sample frame.");
            }

            return AudioReadResult.Success(new DecodedAudio(AudioContainer.Wav, samples, format.SampleRate, format.Channels, 0, isTruncated));
        }
    }

    private static bool IsPcm(WaveFormat format) =>
        format.Encoding == WaveFormatEncoding.Pcm || SubFormat(format) == PcmSubFormat;

    private static bool IsFloat(WaveFormat format) =>
        format.Encoding == WaveFormatEncoding.IeeeFloat || SubFormat(format) == FloatSubFormat;

    /// <summary>The sub-format GUID of a WAVE_FORMAT_EXTENSIBLE header (NAudio keeps it in the extra bytes).</summary>
    private static Guid? SubFormat(WaveFormat format) => format switch
    {
        WaveFormatExtensible extensible => extensible.SubFormat,
        WaveFormatExtraData { Encoding: WaveFormatEncoding.Extensible, ExtraSize: >= 22 } extra => new Guid(extra.ExtraData.AsSpan(6, 16)),
        _ => null,
    };

    /// <summary>The size the first "data" chunk claims, or -1 when the chunk list cannot be walked to it.</summary>
    private static long FindDeclaredDataLength(Stream stream)
    {
        var start = stream.Position;
        try
        {
            Span<byte> header = stackalloc byte[8];
            stream.Position = start + 12;
            while (stream.ReadAtLeast(header, 8, throwOnEndOfStream: false) == 8)
            {
                var size = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
                if (header[..4].SequenceEqual("data"u8))
                {
                    return size;
                }

                var next = stream.Position + size + (size & 1);
                if (next > stream.Length)
                {
                    return -1;
                }

                stream.Position = next;
            }

            return -1;
        }
        finally
        {
            stream.Position = start;
        }
    }

    /// <summary>Returns what is wrong with the header, or null when its fields agree with each other.</summary>
    private static string? CheckHeader(WaveFormat format, bool isFloat)
    {
        if (format.SampleRate is < PcmFormat.MinSampleRate or > PcmFormat.MaxSampleRate)
        {
            return $"WAV sample rate {format.SampleRate} Hz is outside {PcmFormat.MinSampleRate}..{PcmFormat.MaxSampleRate} Hz.";
        }

        if (format.Channels is < 1 or > PcmFormat.MaxChannels)
        {
            return $"WAV channel count {format.Channels} is outside 1..{PcmFormat.MaxChannels}.";
        }

        var bitsValid = isFloat ? format.BitsPerSample is 32 or 64 : format.BitsPerSample is 8 or 16 or 24 or 32;
        if (!bitsValid)
        {
            return $"WAV {(isFloat ? "float" : "PCM")} sample width {format.BitsPerSample} bits is not supported.";
        }

        var blockAlign = format.Channels * format.BitsPerSample / 8;
        if (format.BlockAlign != blockAlign)
        {
            return $"WAV block align {format.BlockAlign} contradicts {format.Channels} channel(s) of {format.BitsPerSample} bits ({blockAlign}).";
        }

        if ((long)format.AverageBytesPerSecond != (long)format.SampleRate * blockAlign)
        {
            return $"WAV byte rate {format.AverageBytesPerSecond} contradicts {format.SampleRate} Hz × {blockAlign} bytes.";
        }

        return null;
    }

    private static (float[] Samples, bool IsTruncated) ReadSamples(WaveFileReader reader, Stream stream, WaveFormat format, bool isFloat)
    {
        var bytesPerSample = format.BitsPerSample / 8;
        var blockAlign = format.BlockAlign;

        // Size the array from the bytes really there, not from the declared length: a lying header must not
        // allocate gigabytes.
        var present = Math.Min(reader.Length, Math.Max(0, stream.Length - stream.Position));
        var samples = new float[(int)Math.Min(present / blockAlign * format.Channels, Array.MaxLength)];

        var chunk = new byte[blockAlign * 4096];
        var pending = 0;
        var written = 0;
        long totalRead = 0;
        int read;
        // NAudio reads whole blocks only; a short read from the stream can still leave a partial block pending.
        while ((read = reader.Read(chunk, pending, (chunk.Length - pending) / blockAlign * blockAlign)) > 0)
        {
            totalRead += read;
            var have = pending + read;
            var whole = have / blockAlign * blockAlign;
            var count = whole / bytesPerSample;
            if (written + count > samples.Length)
            {
                break; // the stream grew while being read; keep what the sizing saw
            }

            var destination = samples.AsSpan(written, count);
            if (isFloat)
            {
                SampleConversion.IeeeToFloat(chunk.AsSpan(0, whole), format.BitsPerSample, destination);
            }
            else
            {
                SampleConversion.PcmToFloat(chunk.AsSpan(0, whole), format.BitsPerSample, destination);
            }

            written += count;
            pending = have - whole;
            chunk.AsSpan(whole, pending).CopyTo(chunk);
        }

        var isTruncated = totalRead < reader.Length || pending != 0;
        return (written == samples.Length ? samples : samples.AsSpan(0, written).ToArray(), isTruncated);
    }

}
