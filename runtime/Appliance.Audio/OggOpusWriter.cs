using System.Buffers.Binary;
using Concentus;
using Concentus.Enums;

namespace Appliance.Audio;

/// <summary>
/// Encodes audio with Concentus (Opus, RFC 6716) in 20 ms packets and writes it as an Ogg Opus file (RFC 7845): the
/// OpusHead and OpusTags pages, then one packet per page with its granule position. Stateless; thread-safe.
/// </summary>
public static class OggOpusWriter
{
    /// <summary>The pre-skip written in OpusHead, in samples at 48 kHz: the encoder's look-ahead to drop at the start.</summary>
    public const int PreSkip = 312;

    /// <summary>20 ms Opus packets of <paramref name="samples"/> (interleaved); a last partial frame is dropped.</summary>
    /// <param name="samples">Interleaved samples in [-1, 1].</param>
    /// <param name="sampleRate">8000, 12000, 16000, 24000 or 48000 Hz.</param>
    /// <param name="channels">1 or 2.</param>
    /// <param name="bitrate">Bits per second.</param>
    public static List<byte[]> Encode(ReadOnlySpan<float> samples, int sampleRate, int channels, int bitrate = 32000)
    {
        using var encoder = OpusCodecFactory.CreateEncoder(sampleRate, channels, OpusApplication.OPUS_APPLICATION_AUDIO);
        encoder.Bitrate = bitrate;
        var frame = sampleRate / 50;
        var packets = new List<byte[]>();
        var output = new byte[4000];
        for (var start = 0; start + (frame * channels) <= samples.Length; start += frame * channels)
        {
            var length = encoder.Encode(samples.Slice(start, frame * channels), frame, output, output.Length);
            packets.Add(output[..length]);
        }

        return packets;
    }

    /// <summary>An Ogg Opus file of <paramref name="packets"/>.</summary>
    /// <param name="packets">Opus packets in order.</param>
    /// <param name="channels">The channel count of the packets.</param>
    /// <param name="samplesPerPacket48k">Each packet's length in samples at 48 kHz (960 for 20 ms).</param>
    /// <param name="totalSamples48k">The audio's length at 48 kHz, which ends the last page's granule position.</param>
    public static byte[] Write(IReadOnlyList<byte[]> packets, int channels, int samplesPerPacket48k, long totalSamples48k)
    {
        ArgumentNullException.ThrowIfNull(packets);
        using var stream = new MemoryStream();
        var head = new byte[19];
        "OpusHead"u8.CopyTo(head);
        head[8] = 1;
        head[9] = (byte)channels;
        BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(10), PreSkip);
        BinaryPrimitives.WriteUInt32LittleEndian(head.AsSpan(12), 48000);
        WritePage(stream, head, 0, 0, 0x02);
        var tags = new byte[16];
        "OpusTags"u8.CopyTo(tags);
        WritePage(stream, tags, 0, 1, 0);
        long granule = 0;
        for (var i = 0; i < packets.Count; i++)
        {
            granule = Math.Min(granule + samplesPerPacket48k, totalSamples48k + PreSkip);
            WritePage(stream, packets[i], granule, (uint)(i + 2), (byte)(i == packets.Count - 1 ? 0x04 : 0));
        }

        return stream.ToArray();
    }

    /// <summary>An Ogg Opus file of 16 kHz mono audio (speech at 24 kbit/s).</summary>
    /// <param name="mono16k">Samples at 16 kHz in [-1, 1].</param>
    public static byte[] FromMono16k(ReadOnlySpan<float> mono16k)
    {
        var packets = Encode(mono16k, SpeechAudio.SampleRate, 1, 24000);
        return Write(packets, 1, 960, mono16k.Length * 3L);
    }

    private static void WritePage(Stream stream, byte[] packet, long granule, uint sequence, byte flags)
    {
        var segments = (packet.Length / 255) + 1;
        var page = new byte[27 + segments + packet.Length];
        "OggS"u8.CopyTo(page);
        page[5] = flags;
        BinaryPrimitives.WriteInt64LittleEndian(page.AsSpan(6), granule);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(14), 0x41505031); // the stream's serial number
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(18), sequence);
        page[26] = (byte)segments;
        for (var s = 0; s < segments; s++)
        {
            page[27 + s] = (byte)(s < segments - 1 ? 255 : packet.Length % 255);
        }

        packet.CopyTo(page, 27 + segments);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(22), OggCrc.Update(0, page));
        stream.Write(page);
    }
}
