using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Appliance.Audio;

/// <summary>
/// Reads an Ogg Opus file (RFC 7845) as opusdec does: each link of the file (recordings appended one after another,
/// with the same or different serial numbers) starts with its OpusHead and OpusTags header packets, then audio
/// packets decoded at 48 kHz; each link's pre-skip samples are dropped at its start and its end is trimmed to its
/// last granule position, and the links are joined in order. Channel mapping family 0 (mono or stereo) only; the
/// output has the first link's channel count.
/// </summary>
internal static class OggOpusDecoder
{
    private const int SampleRate = 48000;

    public static AudioReadResult Read(Stream stream)
    {
        var reader = new OggPacketReader(stream);
        if (!reader.TryReadPacket(out var head, out _))
        {
            return AudioReadResult.Failure(AudioFileError.InvalidHeader, "Ogg stream holds no intact page.");
        }

        var first = ParseHead(head);
        if (first.Problem is { } problem)
        {
            return AudioReadResult.Failure(first.Error, problem);
        }

        var channels = first.Channels;
        var output = new List<float>();
        var warnings = new List<string>();
        var skipped = 0;
        var isTruncated = false;
        var link = new LinkDecoder(first.PreSkip, first.Gain, channels);
        var linkIndex = 0;
        while (true)
        {
            var more = reader.TryReadPacket(out var packet, out var packetLink);
            if (!more || packetLink != linkIndex)
            {
                isTruncated |= link.AppendTrimmed(output, reader.LinkGranules[linkIndex]);
                skipped += link.Skipped;
                link.Dispose();
                if (!more)
                {
                    break;
                }

                linkIndex = packetLink;
                var next = ParseHead(packet);
                if (next.Problem is { } linkProblem)
                {
                    // Not an Opus link: its packets are skipped and counted, the links around it still decode.
                    warnings.Add($"Ogg link {linkIndex + 1} skipped: {linkProblem}");
                    link = new LinkDecoder(0, 0, channels) { IsUnusable = true };
                }
                else
                {
                    link = new LinkDecoder(next.PreSkip, next.Gain, channels);
                }

                continue;
            }

            link.Add(packet);
        }

        skipped += reader.Skipped;
        if (reader.LinkGranules.Count > 1)
        {
            warnings.Add($"Ogg stream of {reader.LinkGranules.Count} chained links, decoded one after another.");
        }

        if (output.Count == 0)
        {
            return AudioReadResult.Failure(AudioFileError.NoAudio, $"Ogg Opus stream decoded to no samples ({skipped} corrupt page(s) or packet(s)).");
        }

        return AudioReadResult.Success(new DecodedAudio(AudioContainer.OggOpus, output.ToArray(), SampleRate, channels, skipped, isTruncated, warnings));
    }

    private static OpusHead ParseHead(byte[] head)
    {
        if (head.Length < 19 || !head.AsSpan(0, 8).SequenceEqual("OpusHead"u8))
        {
            return new OpusHead(0, 0, 0, AudioFileError.UnsupportedEncoding, "Ogg stream is not Opus (no OpusHead packet first).");
        }

        var version = head[8];
        var channels = head[9];
        var preSkip = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(10, 2));
        var gain = BinaryPrimitives.ReadInt16LittleEndian(head.AsSpan(16, 2));
        var mappingFamily = head[18];
        if (version >> 4 != 0 || channels is 0)
        {
            return new OpusHead(channels, preSkip, gain, AudioFileError.InvalidHeader, $"OpusHead version {version} or channel count {channels} is invalid.");
        }

        if (mappingFamily != 0 || channels > 2)
        {
            return new OpusHead(channels, preSkip, gain, AudioFileError.UnsupportedEncoding, $"Opus channel mapping family {mappingFamily} with {channels} channels is not supported.");
        }

        return new OpusHead(channels, preSkip, gain, AudioFileError.None, null);
    }

    /// <summary>The fields of an OpusHead packet this reader uses (RFC 7845, section 5.1), or why it is unusable.</summary>
    private sealed record OpusHead(int Channels, int PreSkip, int Gain, AudioFileError Error, string? Problem);

    /// <summary>Decodes the audio packets of one link, then trims them by the link's pre-skip and last granule.</summary>
    private sealed class LinkDecoder : IDisposable
    {
        private readonly OpusFrameDecoder _decoder;
        private readonly int _preSkip;
        private readonly float[] _frame;
        private readonly List<float> _samples = [];
        private int _packets;
        private int _lastDuration;
        private int _unusablePackets;

        /// <summary>Decodes at 48 kHz to <paramref name="channels"/> channels, whatever the link's own count.</summary>
        /// <param name="preSkip">Samples per channel at 48 kHz to drop at the link's start.</param>
        /// <param name="gain">Output gain in Q7.8 dB from the link's OpusHead.</param>
        /// <param name="channels">Output channels.</param>
        public LinkDecoder(int preSkip, int gain, int channels)
        {
            _preSkip = preSkip;
            _decoder = new OpusFrameDecoder(SampleRate, channels);
            _decoder.SetGain(gain);
            _frame = new float[_decoder.GetMaxDecodedLength(0)];
        }

        /// <summary>The link's header was not Opus: every packet of it is counted as skipped.</summary>
        public bool IsUnusable { get; init; }

        public int Skipped => (int)_decoder.FramesSkipped + _unusablePackets;

        public void Add(byte[] packet)
        {
            if (_packets++ == 0 && packet.AsSpan().StartsWith("OpusTags"u8))
            {
                return;
            }

            if (IsUnusable)
            {
                _unusablePackets++;
                return;
            }

            var result = _decoder.TryDecode(packet, _frame);
            var produced = result.IsDecoded ? result.SamplesPerChannel : 0;
            if (!result.IsDecoded && _lastDuration > 0)
            {
                // Keep the timeline: a corrupt packet becomes concealed audio of the previous packet's length.
                produced = _decoder.ConcealLoss(_lastDuration, _frame);
            }

            _lastDuration = result.IsDecoded ? result.SamplesPerChannel : _lastDuration;
            _samples.AddRange(_frame.AsSpan(0, produced * _decoder.Channels));
        }

        /// <summary>
        /// Appends the link's samples after pre-skip, up to <paramref name="lastGranule"/> (granule positions count
        /// decoded samples, pre-skip included; -1 when the link had none). Returns true when the granule promises
        /// more samples than the link's packets held (the file was cut short).
        /// </summary>
        public bool AppendTrimmed(List<float> output, long lastGranule)
        {
            if (IsUnusable)
            {
                return false; // its packets were counted as skipped; its granules promise nothing decodable
            }

            var channels = _decoder.Channels;
            var perChannel = _samples.Count / channels;
            var end = lastGranule >= 0 ? (int)Math.Clamp(lastGranule, 0, perChannel) : perChannel;
            var start = Math.Min(_preSkip, end);
            output.AddRange(CollectionsMarshal.AsSpan(_samples).Slice(start * channels, (end - start) * channels));
            return lastGranule > perChannel;
        }

        public void Dispose() => _decoder.Dispose();
    }
}
