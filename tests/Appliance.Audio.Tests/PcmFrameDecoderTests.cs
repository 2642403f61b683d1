using System.Buffers;
using Appliance.Audio.Tests.Support;

namespace Appliance.Audio.Tests;

public sealed class PcmFrameDecoderTests
{
    [Fact]
    public void S16StereoFrameDecodes()
    {
        var decoder = new PcmFrameDecoder(new PcmFormat(48000, 2, PcmEncoding.S16LE));
        var frame = WavBuilder.Encode([0.5f, -0.5f, 0.25f, -1f], 16, false);
        var destination = new float[decoder.GetMaxDecodedLength(frame.Length)];

        var result = decoder.TryDecode(frame, destination);

        Assert.Equal(FrameDecodeResult.Decoded(2), result);
        Assert.Equal([0.5f, -0.5f, 0.25f, -1f], destination[..4]); // the room beyond is for a sample finished from a carried byte
    }

    [Fact]
    public void BadFramesAreSkippedAndCounted()
    {
        var decoder = new PcmFrameDecoder(new PcmFormat(16000, 2, PcmEncoding.F32LE));
        var destination = new float[100];

        Assert.Equal(FrameSkipReason.Empty, decoder.TryDecode([], destination).SkipReason);
        var nan = WavBuilder.Encode([0.1f, float.NaN], 32, true);
        Assert.Equal(FrameSkipReason.InvalidSamples, decoder.TryDecode(nan, destination).SkipReason);
        Assert.True(decoder.TryDecode(new byte[16], destination).IsDecoded);

        Assert.Equal((1L, 2L), (decoder.FramesDecoded, decoder.FramesSkipped));
        Assert.Throws<ArgumentException>(() => decoder.TryDecode(new byte[800], destination));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PcmFrameDecoder(new PcmFormat(100, 1, PcmEncoding.S16LE)));
    }

    /// <summary>
    /// PCM frames are one byte stream: frames of any length, cutting samples (and stereo sample frames) in two, decode
    /// to exactly the samples of the whole stream; a frame too short to finish a sample decodes to nothing yet.
    /// </summary>
    [Theory]
    [InlineData(1, 641)]
    [InlineData(2, 641)]
    [InlineData(2, 3)]
    [InlineData(1, 1)]
    public void Frames_that_cut_samples_are_joined_into_the_stream(int channels, int frameBytes)
    {
        var samples = Signals.ChirpWithNoise(16000, 0.5, seed: 3)[..(8000 / channels * channels)];
        var bytes = WavBuilder.Encode(samples, 16, false);
        var decoder = new PcmFrameDecoder(new PcmFormat(16000, channels, PcmEncoding.S16LE));
        var decoded = new List<float>();
        for (var offset = 0; offset < bytes.Length; offset += frameBytes)
        {
            var frame = bytes.AsSpan(offset, Math.Min(frameBytes, bytes.Length - offset));
            var destination = new float[decoder.GetMaxDecodedLength(frame.Length)];
            var result = decoder.TryDecode(frame, destination);
            Assert.True(result.IsDecoded);
            decoded.AddRange(destination.AsSpan(0, result.SamplesPerChannel * channels));
        }

        var whole = new float[samples.Length];
        SampleConversionProbe.S16(bytes, whole);
        Assert.Equal(whole, decoded);
        Assert.Equal(0, decoder.FramesSkipped);
    }

    /// <summary>
    /// After lost frames the stream realigns on the lost frames' assumed length: the half sample left from before the
    /// gap is dropped, and the bytes that finish a sample begun in a lost frame are skipped.
    /// </summary>
    [Fact]
    public void After_a_gap_the_stream_realigns()
    {
        var samples = Enumerable.Range(0, 2000).Select(i => (i % 200 - 100) / 128f).ToArray();
        var bytes = WavBuilder.Encode(samples, 16, false);
        var decoder = new PcmFrameDecoder(new PcmFormat(16000, 1, PcmEncoding.S16LE));
        var destination = new float[decoder.GetMaxDecodedLength(641)];

        var first = decoder.TryDecode(bytes.AsSpan(0, 641), destination);  // samples 0-319 and half of 320
        decoder.FramesLost(1);                                              // bytes 641-1281 never arrive
        var third = decoder.TryDecode(bytes.AsSpan(1282, 641), destination); // starts in the middle of sample 641

        Assert.Equal(320, first.SamplesPerChannel);
        Assert.Equal(320, third.SamplesPerChannel);
        Assert.Equal(samples[641], destination[0], 1e-6f);
    }

    /// <summary>PCM frames of 44.1 kHz stereo, 10 ms each, through the streaming converter equal the whole-file path.</summary>
    [Fact]
    public void StreamedFramesEqualTheWholeFile()
    {
        var left = Signals.ChirpWithNoise(44100, 2.0, seed: 1);
        var right = Signals.ChirpWithNoise(44100, 2.0, seed: 2);
        var interleaved = new float[left.Length * 2];
        for (var i = 0; i < left.Length; i++)
        {
            interleaved[2 * i] = left[i];
            interleaved[(2 * i) + 1] = right[i];
        }

        var bytes = WavBuilder.Encode(interleaved, 16, false);
        var converter = new Mono16kConverter(new PcmFrameDecoder(new PcmFormat(44100, 2, PcmEncoding.S16LE)));
        var sink = new ArrayBufferWriter<float>();
        for (var offset = 0; offset < bytes.Length; offset += 441 * 4)
        {
            converter.Push(bytes.AsSpan(offset, Math.Min(441 * 4, bytes.Length - offset)), sink);
        }

        converter.Flush(sink);

        var whole = AudioFile.ReadMono16k(new MemoryStream(WavBuilder.Build(interleaved, 44100, 2, 16))).GetAudioOrThrow();
        Assert.Equal(whole.Samples, sink.WrittenSpan.ToArray());
    }
}

/// <summary>The reference conversion of whole s16le samples, to compare the stream with.</summary>
internal static class SampleConversionProbe
{
    public static void S16(ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = System.Buffers.Binary.BinaryPrimitives.ReadInt16LittleEndian(bytes.Slice(i * 2, 2)) / 32768f;
        }
    }
}
