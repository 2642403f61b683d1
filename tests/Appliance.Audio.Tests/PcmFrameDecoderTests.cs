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
        Assert.Equal([0.5f, -0.5f, 0.25f, -1f], destination);
    }

    [Fact]
    public void BadFramesAreSkippedAndCounted()
    {
        var decoder = new PcmFrameDecoder(new PcmFormat(16000, 2, PcmEncoding.F32LE));
        var destination = new float[100];

        Assert.Equal(FrameSkipReason.Empty, decoder.TryDecode([], destination).SkipReason);
        Assert.Equal(FrameSkipReason.Misaligned, decoder.TryDecode(new byte[12], destination).SkipReason);
        var nan = WavBuilder.Encode([0.1f, float.NaN], 32, true);
        Assert.Equal(FrameSkipReason.InvalidSamples, decoder.TryDecode(nan, destination).SkipReason);
        Assert.True(decoder.TryDecode(new byte[16], destination).IsDecoded);

        Assert.Equal((1L, 3L), (decoder.FramesDecoded, decoder.FramesSkipped));
        Assert.Throws<ArgumentException>(() => decoder.TryDecode(new byte[800], destination));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PcmFrameDecoder(new PcmFormat(100, 1, PcmEncoding.S16LE)));
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
