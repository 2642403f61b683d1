using System.Buffers.Binary;
using NLayer;
using MpegSamples = (float[] Samples, int SampleRate, int Channels, bool Truncated);

namespace Appliance.Audio;

/// <summary>
/// Reads MPEG-1/2/2.5 Layer I/II/III files, each with the decoder that agrees with ffmpeg on it (the container corpus
/// measures it): MPEG-1 and MPEG-2 with NLayer, a fully managed decoder (within 55-125 dB of ffmpeg; libmpg123 differs
/// from ffmpeg on some MPEG-2 stereo frames, 26 dB), and MPEG-2.5 with the board's libmpg123
/// (<see cref="Mpg123Library"/>; 114-119 dB), since NLayer misreads MPEG-2.5 8 kHz short blocks (17 dB); without
/// libmpg123, NLayer decodes everything (<see cref="Implementation"/> says which). Gapless playback is done here the way ffmpeg does it: a Xing/Info
/// frame is header data, not audio, and is not decoded; when it carries an encoder-delay field (the LAME extension,
/// written by LAME and by ffmpeg), the encoder delay plus the decoder's own 529 samples are dropped at the start and
/// the encoder padding less those 529 at the end. Both decoders resynchronise past damaged frames by themselves without
/// reporting them; where one gives up on damaged data instead, the audio decoded up to that point is returned as
/// truncated. <see cref="DecodedAudio.FramesSkipped"/> is therefore always 0 for MP3.
/// </summary>
internal static class Mp3Decoder
{
    /// <summary>The Layer III synthesis delay in samples that gapless trimming adds to the encoder delay (528 + 1).</summary>
    private const int DecoderDelay = 529;

    /// <summary>The decoders in use: libmpg123 for MPEG-2.5 where the board has it, NLayer for the rest.</summary>
    public static string Implementation => Mpg123Library.IsAvailable ? "libmpg123 (MPEG-2.5), NLayer (MPEG-1, MPEG-2)" : "NLayer (managed)";

    public static AudioReadResult Read(Stream stream)
    {
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        var bytes = memory.GetBuffer().AsSpan(0, (int)memory.Length);
        var info = InfoFrame.Find(bytes);
        byte[] audio = info is null ? bytes.ToArray() : [.. bytes[..info.Offset], .. bytes[(info.Offset + info.Length)..]];

        var (decoded, problem) = Mpg123Library.IsAvailable && InfoFrame.IsMpeg25(audio) ? DecodeWithLibrary(audio) : DecodeWithNLayer(audio);
        if (decoded is not var (samples, sampleRate, channels, isTruncated))
        {
            return AudioReadResult.Failure(AudioFileError.InvalidHeader, problem!);
        }

        if (channels is < 1 or > 2 || sampleRate is < PcmFormat.MinSampleRate or > PcmFormat.MaxSampleRate)
        {
            return AudioReadResult.Failure(AudioFileError.InvalidHeader, $"MP3 frame header gives {channels} channel(s) at {sampleRate} Hz.");
        }

        var perChannel = samples.Length / channels;
        var (start, end) = (0, perChannel);
        if (info?.Gapless is var (delay, padding, frames))
        {
            start = Math.Min(delay + DecoderDelay, perChannel);
            if (frames > 0)
            {
                end = (int)Math.Clamp(((long)frames * info.SamplesPerFrame) - padding + DecoderDelay, start, perChannel);
            }
        }

        if (end - start <= 0)
        {
            return AudioReadResult.Failure(AudioFileError.NoAudio, "MP3 stream decoded to no samples.");
        }

        var output = samples.AsSpan(start * channels, (end - start) * channels).ToArray();
        return AudioReadResult.Success(new DecodedAudio(AudioContainer.Mp3, output, sampleRate, channels, 0, isTruncated));
    }

    private static (MpegSamples? Decoded, string? Problem) DecodeWithLibrary(byte[] audio) =>
        Mpg123Library.Decode(audio) is { } decoded ? (decoded, null) : (null, "MP3 stream has no decodable frame (libmpg123 found none).");

    /// <summary>
    /// Decodes with NLayer. <paramref name="audio"/> is this decoder's own copy, and every RIFF/WAVE header inside it
    /// is broken first: NLayer takes a "RIFF" mark met while it looks for the first frame as a RIFF header and walks its
    /// chunks with signed sizes and no end check, so sizes that step back or past the end made it read forever (found by
    /// fuzzing with AFL++; 416 bytes held a thread at 100 % CPU). A RIFF header never belongs inside an MP3 stream (a
    /// RIFF-wrapped MP3 reaches this decoder as its data chunk), and its bytes stay junk between frames, as ffmpeg takes
    /// them.
    /// </summary>
    private static (MpegSamples? Decoded, string? Problem) DecodeWithNLayer(byte[] audio)
    {
        BreakRiffHeaders(audio);
        var samples = new List<float>();
        var (channels, sampleRate) = (0, 0);
        try
        {
            using var mpeg = new MpegFile(new MemoryStream(audio, writable: false));
            (channels, sampleRate) = (mpeg.Channels, mpeg.SampleRate);
            if (channels is < 1 or > 2)
            {
                return (([], sampleRate, channels, false), null); // refused by the caller's header check
            }

            var buffer = new float[1152 * 2 * 16];
            int read;
            while ((read = mpeg.ReadSamples(buffer.AsSpan())) > 0)
            {
                samples.AddRange(buffer.AsSpan(0, read));
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or ArgumentException or IndexOutOfRangeException)
        {
            // NLayer reports malformed input with these (IndexOutOfRange from its bit reader on damaged frames).
            return samples.Count == 0 || channels == 0
                ? (null, $"MP3 stream has no decodable frame: {e.Message}")
                : (([.. samples], sampleRate, channels, true), null);
        }

        return (([.. samples], sampleRate, channels, false), null);
    }

    /// <summary>Overwrites the first byte of each "RIFF" that has "WAVEfmt " 8 bytes on, the mark NLayer would take as a RIFF header.</summary>
    private static void BreakRiffHeaders(byte[] audio)
    {
        var span = audio.AsSpan();
        for (var from = 0; from < span.Length && span[from..].IndexOf("RIFF"u8) is >= 0 and var found;)
        {
            var at = from + found;
            if (at + 16 <= span.Length && span.Slice(at + 8, 8).SequenceEqual("WAVEfmt "u8))
            {
                span[at] = 0;
            }

            from = at + 1;
        }
    }

    /// <summary>
    /// The Xing/Info frame at the start of a Layer III stream (after any ID3v2 tag): where it is, and the gapless
    /// fields of its LAME extension when an encoder that writes them (LAME, ffmpeg's Lavf/Lavc) made the file.
    /// Layout as documented by the LAME project ("Mp3 Info Tag rev 1 specifications").
    /// </summary>
    private sealed record InfoFrame(int Offset, int Length, int SamplesPerFrame, (int Delay, int Padding, int Frames)? Gapless)
    {
        private static readonly int[] BitratesV1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
        private static readonly int[] BitratesV2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
        private static readonly int[] RatesV1 = [44100, 48000, 32000];

        public static InfoFrame? Find(ReadOnlySpan<byte> file)
        {
            var offset = Id3v2Length(file);
            if (offset + 4 > file.Length || file[offset] != 0xFF || (file[offset + 1] & 0xE0) != 0xE0)
            {
                return null; // the stream does not start with a frame: no Info frame to find
            }

            var header = BinaryPrimitives.ReadUInt32BigEndian(file[offset..]);
            var version = (int)(header >> 19) & 3; // 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
            var layer = (int)(header >> 17) & 3; // 1 Layer III
            var bitrateIndex = (int)(header >> 12) & 15;
            var rateIndex = (int)(header >> 10) & 3;
            if (version == 1 || layer != 1 || bitrateIndex is 0 or 15 || rateIndex == 3)
            {
                return null;
            }

            var isMpeg1 = version == 3;
            var rate = RatesV1[rateIndex] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
            var bitrate = (isMpeg1 ? BitratesV1 : BitratesV2)[bitrateIndex] * 1000;
            var padding = (int)(header >> 9) & 1;
            var length = ((isMpeg1 ? 144 : 72) * bitrate / rate) + padding;
            var mono = ((header >> 6) & 3) == 3;
            var tag = offset + 4 + (isMpeg1 ? (mono ? 17 : 32) : (mono ? 9 : 17));
            if (tag + 8 > file.Length || offset + length > file.Length
                || !(file.Slice(tag, 4).SequenceEqual("Xing"u8) || file.Slice(tag, 4).SequenceEqual("Info"u8)))
            {
                return null;
            }

            var flags = BinaryPrimitives.ReadUInt32BigEndian(file[(tag + 4)..]);
            var at = tag + 8;
            var frames = 0;
            if ((flags & 1) != 0 && at + 4 <= file.Length)
            {
                frames = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(file[at..]), int.MaxValue);
            }

            at += ((flags & 1) != 0 ? 4 : 0) + ((flags & 2) != 0 ? 4 : 0) + ((flags & 4) != 0 ? 100 : 0) + ((flags & 8) != 0 ? 4 : 0);
            (int, int, int)? gapless = null;
            if (at + 24 <= offset + length)
            {
                var encoder = file.Slice(at, 4);
                if (encoder.SequenceEqual("LAME"u8) || encoder.SequenceEqual("Lavf"u8) || encoder.SequenceEqual("Lavc"u8))
                {
                    var packed = (file[at + 21] << 16) | (file[at + 22] << 8) | file[at + 23];
                    gapless = (packed >> 12, packed & 0xFFF, frames);
                }
            }

            return new InfoFrame(offset, length, isMpeg1 ? 1152 : 576, gapless);
        }

        /// <summary>Whether the stream's first frame (after any ID3v2 tag) is MPEG-2.5 (version bits 00).</summary>
        public static bool IsMpeg25(ReadOnlySpan<byte> file)
        {
            var offset = Id3v2Length(file);
            return offset + 2 <= file.Length && file[offset] == 0xFF && (file[offset + 1] & 0xF8) == 0xE0;
        }

        /// <summary>The bytes of an ID3v2 tag at the start (header, syncsafe size, optional footer), or 0.</summary>
        private static int Id3v2Length(ReadOnlySpan<byte> file)
        {
            if (file.Length < 10 || !file.StartsWith("ID3"u8))
            {
                return 0;
            }

            var size = ((file[6] & 0x7F) << 21) | ((file[7] & 0x7F) << 14) | ((file[8] & 0x7F) << 7) | (file[9] & 0x7F);
            return 10 + size + ((file[5] & 0x10) != 0 ? 10 : 0);
        }
    }
}
