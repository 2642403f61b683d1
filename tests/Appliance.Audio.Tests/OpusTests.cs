using Appliance.Tests.Common;
using System.Buffers;
using Appliance.Audio.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Audio.Tests;

public sealed class OpusTests(ITestOutputHelper output)
{
    /// <summary>
    /// Encode with the Concentus encoder, decode frame by frame: after aligning for the codec delay, the decoded
    /// signal correlates with the original at 0.95 or better (32 kbit/s, 20 ms frames).
    /// </summary>
    [Theory]
    [InlineData(48000)]
    [InlineData(16000)]
    public void RoundTripCorrelates(int sampleRate)
    {
        var original = Signals.ChirpWithNoise(sampleRate, 2.0);
        var packets = OggOpusWriter.Encode(original, sampleRate, 1);

        using var decoder = new OpusFrameDecoder(sampleRate, 1);
        var decoded = new List<float>();
        var frame = new float[decoder.GetMaxDecodedLength(0)];
        foreach (var packet in packets)
        {
            var result = decoder.TryDecode(packet, frame);
            Assert.True(result.IsDecoded);
            Assert.Equal(sampleRate / 50, result.SamplesPerChannel);
            decoded.AddRange(frame.AsSpan(0, result.SamplesPerChannel));
        }

        var (correlation, lag) = Signals.BestCorrelation(original, decoded.ToArray(), sampleRate / 100);
        output.WriteLine($"{sampleRate} Hz: correlation {correlation:F4} at lag {lag}");
        Assert.True(correlation >= 0.95, $"correlation {correlation:F4}");
        Assert.Equal(packets.Count, decoder.FramesDecoded);
        Assert.Equal(0, decoder.FramesSkipped);
    }

    /// <summary>
    /// DTX: packets without frame data (a TOC byte, or a TOC and a frame count) stand for their duration, as libopus
    /// decodes them: <c>F8</c> is one empty 20 ms frame, <c>FB 03</c> three, at any output rate, after normal packets too.
    /// </summary>
    [Theory]
    [InlineData(48000)]
    [InlineData(16000)]
    public void Dtx_packets_decode_to_their_duration(int sampleRate)
    {
        var packets = OggOpusWriter.Encode(Signals.ChirpWithNoise(sampleRate, 0.2), sampleRate, 1);
        using var decoder = new OpusFrameDecoder(sampleRate, 1);
        var frame = new float[decoder.GetMaxDecodedLength(0)];
        foreach (var packet in packets)
        {
            Assert.True(decoder.TryDecode(packet, frame).IsDecoded);
        }

        var one = decoder.TryDecode([0xF8], frame);
        var three = decoder.TryDecode([0xFB, 0x03], frame);

        Assert.Equal(FrameDecodeResult.Decoded(sampleRate / 50), one);
        Assert.Equal(FrameDecodeResult.Decoded(3 * sampleRate / 50), three);
        Assert.Equal(0, decoder.FramesSkipped);
    }

    /// <summary>Random bytes as frames: every frame is decoded or counted as skipped, nothing throws.</summary>
    [Fact]
    public void RandomFramesAreCountedSkips()
    {
        using var decoder = new OpusFrameDecoder(48000, 2);
        var frame = new float[decoder.GetMaxDecodedLength(0)];
        var random = new Random(11);
        var skipped = 0;
        for (var i = 0; i < 3000; i++)
        {
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            var result = decoder.TryDecode(bytes, frame);
            skipped += result.IsDecoded ? 0 : 1;
            Assert.Equal(result.IsDecoded, result.SkipReason == FrameSkipReason.None);
        }

        output.WriteLine($"{skipped} of 3000 random frames skipped");
        Assert.Equal(3000, decoder.FramesDecoded + decoder.FramesSkipped);
        Assert.Equal(skipped, decoder.FramesSkipped);
        Assert.True(skipped > 100, "random bytes should mostly not be valid Opus packets");
        Assert.Equal(FrameSkipReason.Empty, decoder.TryDecode([], frame).SkipReason);
    }

    /// <summary>Valid packets with flipped bits and cut short reach deep into the decoder; still only results.</summary>
    [Fact]
    public void DamagedPacketsNeverThrow()
    {
        var packets = OggOpusWriter.Encode(Signals.ChirpWithNoise(48000, 1.0), 48000, 1);
        using var decoder = new OpusFrameDecoder(48000, 1);
        var frame = new float[decoder.GetMaxDecodedLength(0)];
        var random = new Random(5);
        for (var round = 0; round < 40; round++)
        {
            foreach (var packet in packets)
            {
                var damaged = packet[..Math.Max(1, packet.Length - random.Next(0, packet.Length / 2))];
                for (var flips = random.Next(1, 6); flips > 0; flips--)
                {
                    damaged[random.Next(damaged.Length)] ^= (byte)(1 << random.Next(8));
                }

                decoder.TryDecode(damaged, frame);
            }
        }

        Assert.Equal(40 * packets.Count, decoder.FramesDecoded + decoder.FramesSkipped);
    }

    [Fact]
    public void LossIsConcealedWithTheRequestedDuration()
    {
        var packets = OggOpusWriter.Encode(Signals.Sine(440, 48000, 0.2), 48000, 1);
        using var decoder = new OpusFrameDecoder(48000, 1);
        var frame = new float[decoder.GetMaxDecodedLength(0)];
        decoder.TryDecode(packets[0], frame);

        Assert.Equal(960, decoder.ConcealLoss(960, frame));
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.ConcealLoss(100, frame));
    }

    /// <summary>
    /// An Ogg Opus file from Debian's opusenc, read by AudioFile, gives opusdec's samples (48 kHz float output):
    /// same length, a signal-to-difference ratio of at least 60 dB and no sample more than 1e-3 apart (Concentus
    /// is a port of an older libopus and rounds differently; measured: about 83 dB, 1.2e-4). Needs Debian's opus-tools,
    /// which ./test.sh installs.
    /// </summary>
    [Fact]
    public void OggOpusFileDecodesLikeTheReference()
    {
        Assert.True(ToolRunner.IsOnPath("opusenc") && ToolRunner.IsOnPath("opusdec"), "opusenc and opusdec are missing: apt-get install opus-tools (./test.sh does it)");
        CompareWithOpusTools(Signals.ChirpWithNoise(48000, 3.0));
    }

    /// <summary>Our own Ogg Opus file (Concentus packets) reads back as the same samples as decoding the packets frame by frame.</summary>
    [Fact]
    public void OggOpusFileDecodesLikeItsFramesOneByOne() => CompareWithFrameDecoding(Signals.ChirpWithNoise(48000, 3.0));

    [Fact]
    public void CorruptOggPageIsSkippedAndCounted()
    {
        var source = Signals.ChirpWithNoise(48000, 1.0);
        var packets = OggOpusWriter.Encode(source, 48000, 1);
        var bytes = OggOpusWriter.Write(packets, 1, 960, source.Length);
        var clean = AudioFile.Read(new MemoryStream(bytes)).GetAudioOrThrow();

        var damaged = (byte[])bytes.Clone();
        damaged[bytes.Length / 2] ^= 0x55; // inside some audio page: its CRC no longer matches
        var result = AudioFile.Read(new MemoryStream(damaged));

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(1, result.Audio!.FramesSkipped);
        Assert.True(result.Audio.Length >= clean.Length - 960, $"{result.Audio.Length} vs {clean.Length}");

        var cut = AudioFile.Read(new MemoryStream(bytes[..(bytes.Length * 2 / 3)]));
        Assert.True(cut.Succeeded, cut.Message);
        Assert.True(cut.Audio!.Length < clean.Length);
    }

    [Fact]
    public void StreamingOpusFramesBecomeSixteenKilohertzMono()
    {
        var source = Signals.ChirpWithNoise(48000, 1.0);
        var stereo = source.SelectMany(x => new[] { x, x }).ToArray();
        var packets = OggOpusWriter.Encode(stereo, 48000, 2);

        using var decoder = new OpusFrameDecoder(48000, 2);
        var converter = new Mono16kConverter(decoder);
        var sink = new ArrayBufferWriter<float>();
        var garbage = new byte[] { 0xFF, 0xFF, 0xFF };
        foreach (var packet in packets)
        {
            converter.Push(packet, sink);
            converter.Push(garbage, sink);
        }

        converter.Flush(sink);

        Assert.Equal(packets.Count, converter.FramesDecoded);
        Assert.Equal(packets.Count, converter.FramesSkipped);
        Assert.Equal(packets.Count * 320, sink.WrittenCount);
        var reference = Resampler.ResampleAll(source, 48000, 16000);
        var (correlation, _) = Signals.BestCorrelation(reference, sink.WrittenSpan, 200);
        Assert.True(correlation >= 0.95, $"correlation {correlation:F4}");
    }

    private void CompareWithOpusTools(float[] source)
    {
        var directory = Directory.CreateTempSubdirectory("appliance-opus-");
        try
        {
            var wav = Path.Combine(directory.FullName, "in.wav");
            var opus = Path.Combine(directory.FullName, "in.opus");
            var decodedWav = Path.Combine(directory.FullName, "out.wav");
            File.WriteAllBytes(wav, WavBuilder.Build(source, 48000, 1, 16));
            ToolRunner.Run("opusenc", ["--quiet", "--bitrate", "32", wav, opus]);
            ToolRunner.Run("opusdec", ["--quiet", "--rate", "48000", "--float", opus, decodedWav]);

            var ours = AudioFile.Read(opus);
            var theirs = AudioFile.Read(decodedWav);
            Assert.True(ours.Succeeded, ours.Message);
            Assert.True(theirs.Succeeded, theirs.Message);
            Assert.Equal((48000, 1), (ours.Audio!.SampleRate, ours.Audio.Channels));
            Assert.Equal(theirs.Audio!.Length, ours.Audio.Length);
            Assert.Equal(0, ours.Audio.FramesSkipped);

            var snr = Signals.SnrDb(theirs.Audio.Samples, ours.Audio.Samples);
            var maxDiff = theirs.Audio.Samples.Zip(ours.Audio.Samples, (a, b) => Math.Abs(a - b)).Max();
            output.WriteLine($"opusenc file: {ours.Audio.Length} samples, SNR against opusdec {snr:F1} dB, max |diff| {maxDiff:E2}");
            Assert.True(snr >= 60, $"SNR against opusdec {snr:F1} dB");
            Assert.True(maxDiff <= 1e-3, $"max |diff| against opusdec {maxDiff:E2}");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static void CompareWithFrameDecoding(float[] source)
    {
        var packets = OggOpusWriter.Encode(source, 48000, 1);
        var file = AudioFile.Read(new MemoryStream(OggOpusWriter.Write(packets, 1, 960, source.Length))).GetAudioOrThrow();

        using var decoder = new OpusFrameDecoder(48000, 1);
        var frame = new float[decoder.GetMaxDecodedLength(0)];
        var direct = new List<float>();
        foreach (var packet in packets)
        {
            direct.AddRange(frame.AsSpan(0, decoder.TryDecode(packet, frame).SamplesPerChannel));
        }

        var expected = direct.Skip(OggOpusWriter.PreSkip).Take(source.Length).ToArray();
        Assert.Equal(expected, file.Samples);
    }
}
