using System.Globalization;
using Appliance.Audio.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Audio.Tests;

/// <summary>
/// Decode what ffmpeg decodes, the way ffmpeg decodes it: every file of <see cref="ContainerCorpus"/> is read by
/// <see cref="AudioFile.Read(Stream)"/> and by ffmpeg (<c>-f f32le -acodec pcm_f32le</c>, native rate and channels, Opus
/// at 48 kHz through <see cref="ReferenceDecoder"/>), and the two must agree on rate and channel count, on the duration within one frame of the container
/// (WAV: one sample frame; MP3: 1152 samples for MPEG-1, 576 for MPEG-2 and 2.5; Opus: one packet), on the timing
/// (the best alignment within ±<see cref="SearchLag"/> must be the variant's allowed lag at most, 0 unless it says
/// otherwise) and on the samples by SNR at that alignment (see <see cref="MinSnrDb"/>). A chained Ogg file is aligned
/// and compared link by link. A variant whose data is unusable must give the error it names, and ffmpeg must decode
/// nothing from it either.
/// </summary>
public sealed class ContainerCorpusTests(ITestOutputHelper output)
{
    /// <summary>
    /// How far the alignment is searched, in samples per channel: two MPEG-1 frames, so that an MP3 decoder that keeps
    /// the encoder and decoder delay (576 + 529 samples with LAME) or decodes the Xing frame shows its lag instead of a
    /// meaningless SNR.
    /// </summary>
    private const int SearchLag = 2304;

    public static TheoryData<string> Variants() => [.. ContainerCorpus.All.Select(variant => variant.Name)];

    [Theory]
    [MemberData(nameof(Variants))]
    public void DecodesLikeFfmpeg(string variant)
    {
        FfmpegReference.Require();
        var corpus = ContainerCorpus.Find(variant);
        var folder = Directory.CreateTempSubdirectory("appliance-corpus-");
        try
        {
            var path = Path.Combine(folder.FullName, corpus.Name + Extension(corpus.Container));
            File.WriteAllBytes(path, corpus.Write(folder.FullName));
            var reference = FfmpegReference.Decode(path, ReferenceDecoder(corpus.Container));
            AudioReadResult result;
            using (var stream = File.OpenRead(path))
            {
                result = AudioFile.Read(stream);
            }

            var ffmpeg = $"ffmpeg: {reference.Length} samples at {reference.SampleRate} Hz, {reference.Channels} channel(s)";
            output.WriteLine($"{result.Error}: {result.Message}; {ffmpeg}");
            if (corpus.ExpectedError is { } error)
            {
                Assert.Equal(0, reference.Length);
                Assert.Equal(error, result.Error);
                return;
            }

            Assert.True(result.Succeeded, $"{result.Error}: {result.Message} ({ffmpeg})");
            var audio = result.Audio!;
            Assert.Equal(corpus.Container, audio.Container);
            Assert.Equal((reference.SampleRate, reference.Channels), (audio.SampleRate, audio.Channels));

            var minSnr = MinSnrDb(corpus.Container);

            var matches = (corpus.Stretches ?? [(0, reference.Length)])
                .Select(stretch => Alignment.Match(
                    reference.Samples, audio.Samples, audio.Channels, stretch.Start, Math.Min(stretch.End, reference.Length), SearchLag))
                .ToList();
            var alignments = string.Join(
                "; ", matches.Select(m => string.Create(CultureInfo.InvariantCulture, $"[{m.Start}, {m.End}): lag {m.Lag}, SNR {m.SnrDb:F1} dB")));
            var report = string.Create(
                CultureInfo.InvariantCulture,
                $"{audio.Length} samples vs ffmpeg's {reference.Length} (difference {audio.Length - reference.Length}, one frame {corpus.FrameSamples}); {alignments} (lag at most {corpus.AllowedLag}, SNR at least {minSnr} dB)");
            output.WriteLine(report);

            Assert.True(Math.Abs(audio.Length - reference.Length) <= corpus.FrameSamples, report);
            Assert.All(matches, match => Assert.True(Math.Abs(match.Lag) <= corpus.AllowedLag && match.SnrDb >= minSnr, report));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The lowest SNR accepted at the best alignment, in dB, a little under what the project measures where it works.
    /// WAV 90 dB: both readers turn the same integers or floats into the same floats; the project is bit-exact (the SNR
    /// prints as over 300 dB), so anything less is a misread.
    /// MP3 55 dB: NLayer (MPEG-1 and 2) and ffmpeg's float decoder agree to 110-125 dB per frame (float rounding), but in
    /// a few short-block granules NLayer differs above 15 kHz (libmpg123 sides with ffmpeg), which takes a whole file
    /// down to 59-61 dB, about ISO/IEC 11172-4's "limited accuracy" (RMS error 2^-11/√12 of full scale) at this
    /// signal's level (0.12 RMS); libmpg123 (MPEG-2.5) agrees to 114-119 dB. A misdecoded granule costs far more (an
    /// 8 kHz short block read with the wrong Huffman region: 17 dB; libmpg123 on some MPEG-2 24 kHz stereo frames: 26 dB).
    /// Opus 60 dB: the project decodes with the board's libopus (bit-exact with ffmpeg's libopus decoder); where only
    /// Concentus's managed port is present it gives 67-72 dB on CELT packets and 99 dB on SILK ones; a dropped or shifted
    /// packet costs far more.
    /// </summary>
    private static double MinSnrDb(AudioContainer container) => container switch
    {
        AudioContainer.Wav => 90,
        AudioContainer.Mp3 => 55,
        AudioContainer.OggOpus => 60,
        _ => throw new ArgumentOutOfRangeException(nameof(container), container, "The corpus holds WAV, MP3 and Ogg Opus only."),
    };

    /// <summary>
    /// ffmpeg's decoder for the reference: its default, except libopus for Opus. ffmpeg's native Opus decoder
    /// resamples SILK output to 48 kHz with a filter of its own (RFC 6716 §4.2.9 leaves the filter to the
    /// implementation) and lands 7.5 dB from libopus on SILK packets; the project decodes with libopus (or Concentus,
    /// a port of it), which resamples as opusdec does.
    /// </summary>
    private static string? ReferenceDecoder(AudioContainer container) => container == AudioContainer.OggOpus ? "libopus" : null;

    private static string Extension(AudioContainer container) => container switch
    {
        AudioContainer.Wav => ".wav",
        AudioContainer.Mp3 => ".mp3",
        _ => ".opus",
    };
}
