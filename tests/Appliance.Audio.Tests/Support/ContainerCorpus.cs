using System.Globalization;
using Appliance.Tests.Common;

namespace Appliance.Audio.Tests.Support;

/// <summary>
/// One file of the container corpus. <paramref name="Write"/> makes its bytes, given a scratch folder for the tools'
/// intermediate files. <paramref name="FrameSamples"/> is one frame of the container (samples per channel): the
/// duration may differ from ffmpeg's by at most that. <paramref name="Stretches"/> are the parts of ffmpeg's output
/// (samples per channel, [Start, End)) that are aligned and compared each on its own, by default all of it; the links
/// of a chained file are compared apart. <paramref name="AllowedLag"/> is how far (samples per channel) the best
/// alignment may be from ffmpeg's timing. <paramref name="ExpectedError"/> is set only where the data itself is
/// unusable (ffmpeg decodes nothing from it either).
/// </summary>
internal sealed record CorpusVariant(
    string Name,
    AudioContainer Container,
    int FrameSamples,
    Func<string, byte[]> Write,
    AudioFileError? ExpectedError = null,
    (int Start, int End)[]? Stretches = null,
    int AllowedLag = 0);

/// <summary>
/// The container corpus: WAV files written byte by byte, MP3 files encoded by ffmpeg's libmp3lame and Ogg Opus files
/// encoded by opusenc, all from <see cref="Signals.InterleavedChirps"/> generated at test time, then edited where the
/// variant needs it (tags, chunk layout, sizes, serial numbers, pre-skip).
/// </summary>
internal static class ContainerCorpus
{
    /// <summary>Length of the WAV signals, in seconds.</summary>
    private const double WavSeconds = 1.2;

    /// <summary>Length of the MP3 signals, in seconds.</summary>
    private const double Mp3Seconds = 2.0;

    /// <summary>Length of the Ogg Opus signals (and of the second link of a chained file), in seconds.</summary>
    private const double OpusSeconds = 1.5;

    /// <summary>Length of the first link of a chained Ogg Opus file, in seconds (48 000 samples per channel at 48 kHz).</summary>
    private const double FirstLinkSeconds = 1.0;

    /// <summary>The rate Ogg Opus is encoded from and decoded at, in Hz.</summary>
    private const int OpusRate = 48000;

    public static IReadOnlyList<CorpusVariant> All { get; } = [.. WavVariants(), .. Mp3Variants(), .. OpusVariants()];

    public static CorpusVariant Find(string name) => All.Single(variant => variant.Name == name);

    private static IEnumerable<CorpusVariant> WavVariants()
    {
        yield return Wav("wav-pcm8-mono-8k", () => RiffWriter.Write([Fmt(8000, 1, 8), Data(8000, 1, 8)]));
        yield return Wav("wav-pcm16-stereo-16k", () => RiffWriter.Write([Fmt(16000, 2, 16), Data(16000, 2, 16)]));
        yield return Wav("wav-pcm24-stereo-48k", () => RiffWriter.Write([Fmt(48000, 2, 24), Data(48000, 2, 24)]));
        yield return Wav("wav-pcm32-mono-44k", () => RiffWriter.Write([Fmt(44100, 1, 32), Data(44100, 1, 32)]));
        yield return Wav("wav-float32-stereo-22k", () => RiffWriter.Write([Fmt(22050, 2, 32, isFloat: true), Data(22050, 2, 32, isFloat: true)]));
        yield return Wav("wav-float64-mono-16k", () => RiffWriter.Write([Fmt(16000, 1, 64, isFloat: true), Data(16000, 1, 64, isFloat: true)]));
        yield return Wav("wav-pcm16-3ch-16k", () => RiffWriter.Write([Fmt(16000, 3, 16), Data(16000, 3, 16)]));
        yield return Wav("wav-pcm16-5ch-16k", () => RiffWriter.Write([Fmt(16000, 5, 16), Data(16000, 5, 16)]));
        yield return Wav("wav-extensible-pcm16-stereo-16k", () => RiffWriter.Write(
            [RiffWriter.Format(16000, 2, 16, isFloat: false, extensible: true, channelMask: 0x3), Data(16000, 2, 16)]));
        yield return Wav("wav-extensible-float32-mono-16k", () => RiffWriter.Write(
            [RiffWriter.Format(16000, 1, 32, isFloat: true, extensible: true, channelMask: 0x4), Data(16000, 1, 32, isFloat: true)]));
        yield return Wav("wav-extensible-pcm32-4ch-16k", () => RiffWriter.Write(
            [RiffWriter.Format(16000, 4, 32, isFloat: false, extensible: true, channelMask: 0x33), Data(16000, 4, 32)]));
        yield return Wav("wav-extensible-pcm24-6ch-48k", () => RiffWriter.Write(
            [RiffWriter.Format(48000, 6, 24, isFloat: false, extensible: true, channelMask: 0x3F), Data(48000, 6, 24)]));

        // Chunks around the data.
        yield return Wav("wav-even-chunk-before-data", () => RiffWriter.Write([Fmt(16000, 2, 16), new RiffChunk("JUNK", new byte[28]), Data(16000, 2, 16)]));
        yield return Wav("wav-odd-chunk-before-data-pad-00", () => RiffWriter.Write([Fmt(16000, 2, 16), new RiffChunk("JUNK", new byte[13]), Data(16000, 2, 16)]));
        yield return Wav("wav-odd-chunk-before-data-pad-e9", () => RiffWriter.Write(
            [Fmt(16000, 2, 16), new RiffChunk("JUNK", new byte[13], PadByte: 0xE9), Data(16000, 2, 16)]));
        yield return Wav("wav-odd-chunk-before-fmt-pad-e9", () => RiffWriter.Write(
            [new RiffChunk("JUNK", new byte[7], PadByte: 0xE9), Fmt(16000, 1, 16), Data(16000, 1, 16)]));
        yield return Wav("wav-list-fact-cue-before-data", () => RiffWriter.Write(
            [Fmt(16000, 2, 16), RiffWriter.Fact((int)(16000 * WavSeconds)), RiffWriter.InfoList("Corpus"), RiffWriter.Cue(4000), Data(16000, 2, 16)]));
        yield return Wav("wav-chunk-after-data", () => RiffWriter.Write([Fmt(16000, 2, 16), Data(16000, 2, 16), RiffWriter.InfoList("Corpus")]));
        yield return Wav("wav-odd-data-padded-then-chunk", () => RiffWriter.Write(
            [Fmt(8000, 1, 8), RiffWriter.Data(Signals.InterleavedChirps(8000, 1, WavSeconds)[..^1], 8, isFloat: false), RiffWriter.InfoList("Corpus")]));

        // Placeholder sizes, as streaming writers leave them: "to the end of the file".
        foreach (var size in new uint[] { 0, 0x7FFFFFFF, 0xFFFFFFFF })
        {
            yield return Wav($"wav-data-size-{size:x8}", () => RiffWriter.Write([Fmt(16000, 2, 16), Data(16000, 2, 16, declaredSize: size)]));
            yield return Wav($"wav-riff-size-{size:x8}", () => RiffWriter.Write([Fmt(16000, 2, 16), Data(16000, 2, 16)], declaredRiffSize: size));
        }

        // Derived fields that contradict the rest: ffmpeg goes by channels, width and rate.
        yield return Wav("wav-byte-rate-zero", () => RiffWriter.Write([RiffWriter.Format(16000, 2, 16, isFloat: false, declaredByteRate: 0), Data(16000, 2, 16)]));
        yield return Wav("wav-byte-rate-of-44k", () => RiffWriter.Write([RiffWriter.Format(16000, 2, 16, isFloat: false, declaredByteRate: 176400), Data(16000, 2, 16)]));
        yield return Wav("wav-block-align-zero", () => RiffWriter.Write([RiffWriter.Format(16000, 2, 16, isFloat: false, declaredBlockAlign: 0), Data(16000, 2, 16)]));
        yield return Wav("wav-block-align-of-mono", () => RiffWriter.Write([RiffWriter.Format(16000, 2, 16, isFloat: false, declaredBlockAlign: 2), Data(16000, 2, 16)]));

        // Unusable data: there is none.
        yield return Wav(
            "wav-empty-data",
            () => RiffWriter.Write([Fmt(16000, 2, 16), RiffWriter.Data([], 16, isFloat: false)]),
            AudioFileError.NoAudio);
    }

    private static IEnumerable<CorpusVariant> Mp3Variants()
    {
        string[] cbr128 = ["-b:a", "128k"];
        string[] vbr = ["-q:a", "4"];
        yield return Mp3("mp3-mpeg1-44k-stereo-cbr", 44100, 2, cbr128);
        yield return Mp3("mp3-mpeg1-48k-mono-vbr", 48000, 1, vbr);
        yield return Mp3("mp3-mpeg1-32k-stereo-vbr", 32000, 2, vbr);
        yield return Mp3("mp3-mpeg2-24k-stereo-cbr", 24000, 2, ["-b:a", "64k"]);
        yield return Mp3("mp3-mpeg2-22k-mono-vbr", 22050, 1, vbr);
        yield return Mp3("mp3-mpeg2-16k-mono-cbr", 16000, 1, ["-b:a", "32k"]);
        yield return Mp3("mp3-mpeg25-12k-mono-vbr", 12000, 1, vbr);
        yield return Mp3("mp3-mpeg25-11k-stereo-cbr", 11025, 2, ["-b:a", "32k"]);
        // MPEG-2.5 goes to libmpg123 (114 dB here); NLayer 3.0.1 reads its 8 kHz short blocks with the 16 kHz Huffman
        // region boundary (line 36 instead of 72) and got 17 dB.
        yield return Mp3("mp3-mpeg25-8k-mono-cbr", 8000, 1, ["-b:a", "16k"]);
        yield return Mp3("mp3-no-tag-no-xing-cbr", 44100, 2, cbr128, Mp3Tag.None, xing: false);
        yield return Mp3("mp3-id3v22-cover", 44100, 2, cbr128, Mp3Tag.Id3v22Cover);
        yield return Mp3("mp3-id3v23-cover", 44100, 2, vbr, Mp3Tag.Id3v23Cover);
        yield return Mp3("mp3-id3v24-cover", 22050, 1, vbr, Mp3Tag.Id3v24Cover);
    }

    private static IEnumerable<CorpusVariant> OpusVariants()
    {
        yield return Opus("opus-2.5ms-mono", 2.5, scratch => EncodeOpus(scratch, "a", OpusRate, 1, OpusSeconds, 2.5, serial: 1));
        yield return Opus("opus-5ms-stereo", 5, scratch => EncodeOpus(scratch, "a", OpusRate, 2, OpusSeconds, 5, serial: 1));
        yield return Opus("opus-10ms-mono", 10, scratch => EncodeOpus(scratch, "a", OpusRate, 1, OpusSeconds, 10, serial: 1));
        yield return Opus("opus-20ms-stereo", 20, scratch => EncodeOpus(scratch, "a", OpusRate, 2, OpusSeconds, 20, serial: 1));
        yield return Opus("opus-40ms-mono", 40, scratch => EncodeOpus(scratch, "a", OpusRate, 1, OpusSeconds, 40, serial: 1));
        yield return Opus("opus-60ms-stereo", 60, scratch => EncodeOpus(scratch, "a", OpusRate, 2, OpusSeconds, 60, serial: 1));
        yield return Opus("opus-20ms-mono-from-16k", 20, scratch => EncodeOpus(scratch, "a", 16000, 1, OpusSeconds, 20, serial: 1));
        yield return Opus(
            "opus-odd-pre-skip-1001",
            20,
            scratch => OggPages.WithPreSkip(EncodeOpus(scratch, "a", OpusRate, 2, OpusSeconds, 20, serial: 1), 1001));

        // Two files concatenated: a chained stream (RFC 7845 §3); the second link's headers restart the decoder. Each
        // link is compared on its own, the second from one packet after its start: at a repeated serial ffmpeg keeps
        // decoding with the first link's state and outputs the second link's pre-skip (opusdec drops it).
        var linkStart = (int)(OpusRate * FirstLinkSeconds);
        (int, int)[] links = [(0, linkStart), (linkStart + (OpusRate / 50), int.MaxValue)];
        yield return Opus(
            "opus-chained-different-serials",
            20,
            scratch => [.. FirstLink(scratch), .. EncodeOpus(scratch, "b", OpusRate, 2, OpusSeconds, 20, serial: 2)],
            links);
        yield return Opus(
            "opus-chained-same-serial",
            20,
            scratch => [.. FirstLink(scratch), .. OggPages.WithSerial(EncodeOpus(scratch, "b", OpusRate, 2, OpusSeconds, 20, serial: 2), 1)],
            links,
            allowedLag: OpusRate / 50); // the second link's pre-skip (312 samples) dropped, as opusdec does, or kept, as ffmpeg does
    }

    private static CorpusVariant Wav(string name, Func<byte[]> write, AudioFileError? expectedError = null) =>
        new(name, AudioContainer.Wav, FrameSamples: 1, _ => write(), expectedError);

    /// <summary>A plain (not extensible) "fmt " chunk whose derived fields agree with the rest.</summary>
    private static RiffChunk Fmt(int sampleRate, int channels, int bits, bool isFloat = false) =>
        RiffWriter.Format(sampleRate, channels, bits, isFloat);

    /// <summary>A "data" chunk of <see cref="WavSeconds"/> of the corpus signal.</summary>
    private static RiffChunk Data(int sampleRate, int channels, int bits, bool isFloat = false, uint? declaredSize = null) =>
        RiffWriter.Data(Signals.InterleavedChirps(sampleRate, channels, WavSeconds), bits, isFloat, declaredSize);

    private enum Mp3Tag
    {
        /// <summary>ffmpeg's own ID3v2.4 tag (encoder name only).</summary>
        Default,

        /// <summary>No ID3v2 tag at all.</summary>
        None,

        /// <summary>An ID3v2.2 tag with a JPEG cover, written by <see cref="Id3v22Tag"/> before a tagless file.</summary>
        Id3v22Cover,

        /// <summary>ffmpeg's ID3v2.3 tag with an attached JPEG cover (APIC).</summary>
        Id3v23Cover,

        /// <summary>ffmpeg's ID3v2.4 tag with an attached JPEG cover (APIC).</summary>
        Id3v24Cover,
    }

    /// <summary>
    /// <see cref="Mp3Seconds"/> of the corpus signal at <paramref name="sampleRate"/> (Hz, which picks MPEG-1, 2 or 2.5)
    /// encoded by libmp3lame with a Xing/LAME header (gapless trimming) unless <paramref name="xing"/> is false.
    /// </summary>
    private static CorpusVariant Mp3(string name, int sampleRate, int channels, string[] rateControl, Mp3Tag tag = Mp3Tag.Default, bool xing = true) =>
        new(name, AudioContainer.Mp3, FrameSamples: sampleRate >= 32000 ? 1152 : 576, scratch =>
        {
            var source = WriteSource(scratch, "source", sampleRate, channels, Mp3Seconds);
            var output = Path.Combine(scratch, "encoded.mp3");
            var cover = tag is Mp3Tag.Id3v22Cover or Mp3Tag.Id3v23Cover or Mp3Tag.Id3v24Cover ? WriteCover(scratch) : null;
            List<string> arguments = ["-i", source];
            if (cover is not null && tag != Mp3Tag.Id3v22Cover)
            {
                arguments.AddRange(["-i", cover, "-map", "0:a", "-map", "1:v", "-c:v", "copy", "-metadata:s:v", "comment=Cover (front)"]);
            }

            arguments.AddRange(["-c:a", "libmp3lame", .. rateControl]);
            arguments.AddRange(tag switch
            {
                Mp3Tag.None or Mp3Tag.Id3v22Cover => ["-id3v2_version", "0"],
                Mp3Tag.Id3v23Cover => ["-id3v2_version", "3"],
                Mp3Tag.Id3v24Cover => ["-id3v2_version", "4"],
                _ => [],
            });
            if (!xing)
            {
                arguments.AddRange(["-write_xing", "0"]);
            }

            FfmpegReference.Run([.. arguments, output]);
            var encoded = File.ReadAllBytes(output);
            return tag == Mp3Tag.Id3v22Cover ? [.. Id3v22Tag.Build("Corpus", File.ReadAllBytes(cover!)), .. encoded] : encoded;
        });

    /// <summary>A 320×240 JPEG test card (about 10 kB, full of 0xFF bytes that look like MPEG sync words).</summary>
    private static string WriteCover(string scratch)
    {
        var path = Path.Combine(scratch, "cover.jpg");
        FfmpegReference.Run("-f", "lavfi", "-i", "testsrc=size=320x240:rate=1", "-frames:v", "1", path);
        return path;
    }

    private static CorpusVariant Opus(
        string name, double frameMilliseconds, Func<string, byte[]> write, (int Start, int End)[]? stretches = null, int allowedLag = 0) =>
        new(name, AudioContainer.OggOpus, FrameSamples: (int)(frameMilliseconds * OpusRate / 1000), write, Stretches: stretches, AllowedLag: allowedLag);

    /// <summary>The first link of a chained file: <see cref="FirstLinkSeconds"/> of stereo, serial 1, 20 ms packets.</summary>
    private static byte[] FirstLink(string scratch) => EncodeOpus(scratch, "first", OpusRate, 2, FirstLinkSeconds, 20, serial: 1);

    /// <summary>
    /// <paramref name="seconds"/> of the corpus signal at <paramref name="sampleRate"/> (Hz) encoded by opusenc with
    /// packets of <paramref name="frameMilliseconds"/> and the given stream serial number.
    /// </summary>
    private static byte[] EncodeOpus(string scratch, string stem, int sampleRate, int channels, double seconds, double frameMilliseconds, uint serial)
    {
        ToolRunner.Require("opusenc", "opus-tools");
        var source = WriteSource(scratch, stem, sampleRate, channels, seconds);
        var output = Path.Combine(scratch, stem + ".opus");
        ToolRunner.Run(
            "opusenc",
            [
                "--quiet",
                "--framesize", frameMilliseconds.ToString(CultureInfo.InvariantCulture),
                "--serial", serial.ToString(CultureInfo.InvariantCulture),
                source,
                output,
            ]);
        return File.ReadAllBytes(output);
    }

    /// <summary>Writes the corpus signal as a 16-bit PCM WAV for the encoders; returns its path.</summary>
    private static string WriteSource(string scratch, string stem, int sampleRate, int channels, double seconds)
    {
        var path = Path.Combine(scratch, stem + ".wav");
        File.WriteAllBytes(path, WavBuilder.Build(Signals.InterleavedChirps(sampleRate, channels, seconds), sampleRate, channels, 16));
        return path;
    }
}
