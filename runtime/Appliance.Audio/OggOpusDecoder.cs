using System.Buffers.Binary;

namespace Appliance.Audio;

/// <summary>
/// Reads an Ogg Opus file (RFC 7845) as opusenc writes it: the OpusHead and OpusTags header packets, then audio
/// packets decoded at 48 kHz; pre-skip samples are dropped at the start and the end is trimmed to the last granule
/// position, as opusdec does. Channel mapping family 0 (mono or stereo) only.
/// </summary>
internal static class OggOpusDecoder
{
    private const int SampleRate = 48000;

    public static AudioReadResult Read(Stream stream)
    {
        var reader = new OggPacketReader(stream);
        if (!reader.TryReadPacket(out var head))
        {
            return AudioReadResult.Failure(AudioFileError.InvalidHeader, "Ogg stream holds no intact page.");
        }

        if (head.Length < 19 || !head.AsSpan(0, 8).SequenceEqual("OpusHead"u8))
        {
            return AudioReadResult.Failure(AudioFileError.UnsupportedEncoding, "Ogg stream is not Opus (no OpusHead packet first).");
        }

        var version = head[8];
        var channels = head[9];
        var preSkip = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(10, 2));
        var gain = BinaryPrimitives.ReadInt16LittleEndian(head.AsSpan(16, 2));
        var mappingFamily = head[18];
        if (version >> 4 != 0 || channels is 0)
        {
            return AudioReadResult.Failure(AudioFileError.InvalidHeader, $"OpusHead version {version} or channel count {channels} is invalid.");
        }

        if (mappingFamily != 0 || channels > 2)
        {
            return AudioReadResult.Failure(AudioFileError.UnsupportedEncoding, $"Opus channel mapping family {mappingFamily} with {channels} channels is not supported.");
        }

        using var decoder = new OpusFrameDecoder(SampleRate, channels) { Gain = gain };
        var frame = new float[decoder.GetMaxDecodedLength(0)];
        var samples = new List<float>();
        var lastDuration = 0;
        var packetIndex = 0;
        while (reader.TryReadPacket(out var packet))
        {
            if (packetIndex++ == 0 && packet.AsSpan().StartsWith("OpusTags"u8))
            {
                continue;
            }

            var result = decoder.TryDecode(packet, frame);
            var produced = result.IsDecoded ? result.SamplesPerChannel : 0;
            if (!result.IsDecoded && lastDuration > 0)
            {
                // Keep the timeline: a corrupt packet becomes concealed audio of the previous packet's length.
                produced = decoder.ConcealLoss(lastDuration, frame);
            }

            lastDuration = result.IsDecoded ? result.SamplesPerChannel : lastDuration;
            samples.AddRange(frame.AsSpan(0, produced * channels));
        }

        var skipped = reader.Skipped + (int)decoder.FramesSkipped;
        var perChannel = samples.Count / channels;
        var end = perChannel;
        if (reader.LastGranule >= 0)
        {
            // Granule positions count decoded samples, pre-skip included.
            end = (int)Math.Clamp(reader.LastGranule, 0, perChannel);
        }

        var start = Math.Min((int)preSkip, end);
        if (end - start <= 0)
        {
            return AudioReadResult.Failure(AudioFileError.NoAudio, $"Ogg Opus stream decoded to no samples ({skipped} corrupt page(s) or packet(s)).");
        }

        var output = samples.GetRange(start * channels, (end - start) * channels).ToArray();
        var isTruncated = reader.LastGranule > perChannel;
        return AudioReadResult.Success(new DecodedAudio(AudioContainer.OggOpus, output, SampleRate, channels, skipped, isTruncated));
    }
}
