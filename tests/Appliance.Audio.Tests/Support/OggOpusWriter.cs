using System.Buffers.Binary;
using Concentus;
using Concentus.Enums;

namespace Appliance.Audio.Tests.Support;

/// <summary>Encodes audio with Concentus and writes it as Ogg Opus (RFC 7845), one packet per page.</summary>
internal static class OggOpusWriter
{
    public const int PreSkip = 312;

    /// <summary>20 ms Opus packets of 48 kHz audio, as earbuds send them.</summary>
    public static List<byte[]> Encode(float[] samples, int sampleRate, int channels, int bitrate = 32000)
    {
        using var encoder = OpusCodecFactory.CreateEncoder(sampleRate, channels, OpusApplication.OPUS_APPLICATION_AUDIO);
        encoder.Bitrate = bitrate;
        var frame = sampleRate / 50;
        var packets = new List<byte[]>();
        var output = new byte[4000];
        for (var start = 0; start + (frame * channels) <= samples.Length; start += frame * channels)
        {
            var length = encoder.Encode(samples.AsSpan(start, frame * channels), frame, output, output.Length);
            packets.Add(output[..length]);
        }

        return packets;
    }

    public static byte[] Write(IReadOnlyList<byte[]> packets, int channels, int samplesPerPacket48k, long totalSamples48k)
    {
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

    private static void WritePage(Stream stream, byte[] packet, long granule, uint sequence, byte flags)
    {
        var segments = (packet.Length / 255) + 1;
        var page = new byte[27 + segments + packet.Length];
        "OggS"u8.CopyTo(page);
        page[5] = flags;
        BinaryPrimitives.WriteInt64LittleEndian(page.AsSpan(6), granule);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(14), 0x1234);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(18), sequence);
        page[26] = (byte)segments;
        for (var s = 0; s < segments; s++)
        {
            page[27 + s] = (byte)(s < segments - 1 ? 255 : packet.Length % 255);
        }

        packet.CopyTo(page, 27 + segments);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(22), OggPages.Crc(page));
        stream.Write(page);
    }
}
