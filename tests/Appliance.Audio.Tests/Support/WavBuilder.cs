using System.Buffers.Binary;

namespace Appliance.Audio.Tests.Support;

/// <summary>Writes WAV files byte by byte, so tests can also write headers that lie.</summary>
internal static class WavBuilder
{
    /// <summary>A WAV file of the given encoding; format tag 1 (PCM) or 3 (float), or 0xFFFE (extensible).</summary>
    public static byte[] Build(
        float[] interleaved,
        int sampleRate,
        int channels,
        int bitsPerSample,
        bool isFloat = false,
        bool extensible = false,
        int? declaredRate = null,
        int? declaredByteRate = null,
        int? declaredBlockAlign = null,
        int? declaredDataLength = null)
    {
        var data = Encode(interleaved, bitsPerSample, isFloat);
        var blockAlign = channels * bitsPerSample / 8;
        var fmtLength = extensible ? 40 : 16;
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write("RIFF"u8);
        writer.Write(4 + (8 + fmtLength) + (8 + data.Length));
        writer.Write("WAVE"u8);
        writer.Write("fmt "u8);
        writer.Write(fmtLength);
        writer.Write((ushort)(extensible ? 0xFFFE : isFloat ? 3 : 1));
        writer.Write((ushort)channels);
        writer.Write(declaredRate ?? sampleRate);
        writer.Write(declaredByteRate ?? (sampleRate * blockAlign));
        writer.Write((ushort)(declaredBlockAlign ?? blockAlign));
        writer.Write((ushort)bitsPerSample);
        if (extensible)
        {
            writer.Write((ushort)22);
            writer.Write((ushort)bitsPerSample);
            writer.Write(channels == 1 ? 4 : 3); // channel mask: centre, or front left + right
            var subFormat = new Guid(isFloat ? "00000003-0000-0010-8000-00aa00389b71" : "00000001-0000-0010-8000-00aa00389b71");
            writer.Write(subFormat.ToByteArray());
        }

        writer.Write("data"u8);
        writer.Write(declaredDataLength ?? data.Length);
        writer.Write(data);
        writer.Flush();
        return stream.ToArray();
    }

    public static byte[] Encode(float[] samples, int bitsPerSample, bool isFloat)
    {
        var bytes = new byte[samples.Length * bitsPerSample / 8];
        for (var i = 0; i < samples.Length; i++)
        {
            var x = Math.Clamp(samples[i], -1f, 1f);
            switch (bitsPerSample, isFloat)
            {
                case (32, true):
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), samples[i]);
                    break;
                case (64, true):
                    BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), samples[i]);
                    break;
                case (8, false):
                    bytes[i] = (byte)Math.Clamp(Math.Round((x * 128) + 128), 0, 255);
                    break;
                case (16, false):
                    BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), (short)Math.Clamp(Math.Round(x * 32768), short.MinValue, short.MaxValue));
                    break;
                case (24, false):
                    var v = (int)Math.Clamp(Math.Round(x * 8388608), -8388608, 8388607);
                    bytes[i * 3] = (byte)v;
                    bytes[(i * 3) + 1] = (byte)(v >> 8);
                    bytes[(i * 3) + 2] = (byte)(v >> 16);
                    break;
                case (32, false):
                    BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), (int)Math.Clamp(Math.Round(x * 2147483648.0), int.MinValue, int.MaxValue));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(bitsPerSample));
            }
        }

        return bytes;
    }
}
