using Appliance.Audio.Tests.Support;

namespace Appliance.Audio.Tests;

public sealed class WavReadingTests
{
    private static readonly float[] Ramp = Enumerable.Range(0, 1000).Select(i => (float)Math.Sin(i * 0.05) * 0.8f).ToArray();

    /// <summary>Each width round-trips within half a quantisation step (float formats exactly).</summary>
    [Theory]
    [InlineData(8, false, false, 1.0 / 128)]
    [InlineData(16, false, false, 1.0 / 32768)]
    [InlineData(24, false, false, 1.0 / 8388608)]
    [InlineData(32, false, false, 1e-7)]
    [InlineData(32, true, false, 0)]
    [InlineData(64, true, false, 0)]
    [InlineData(24, false, true, 1.0 / 8388608)]
    [InlineData(32, true, true, 0)]
    public void ReadsEverySampleWidth(int bits, bool isFloat, bool extensible, double tolerance)
    {
        var bytes = WavBuilder.Build(Ramp, 16000, 1, bits, isFloat, extensible);

        var result = AudioFile.Read(new MemoryStream(bytes));

        Assert.True(result.Succeeded, result.Message);
        var audio = result.Audio!;
        Assert.Equal(AudioContainer.Wav, audio.Container);
        Assert.Equal((16000, 1, Ramp.Length, false), (audio.SampleRate, audio.Channels, audio.Length, audio.IsTruncated));
        for (var i = 0; i < Ramp.Length; i++)
        {
            Assert.True(Math.Abs(audio.Samples[i] - Ramp[i]) <= tolerance + 1e-9, $"sample {i}: {audio.Samples[i]} vs {Ramp[i]}");
        }
    }

    [Fact]
    public void StereoIsAveragedToMono()
    {
        var left = Signals.Sine(440, 16000, 0.5, 0.6);
        var right = Signals.Sine(1000, 16000, 0.5, 0.2);
        var interleaved = new float[left.Length * 2];
        for (var i = 0; i < left.Length; i++)
        {
            interleaved[2 * i] = left[i];
            interleaved[(2 * i) + 1] = right[i];
        }

        var result = AudioFile.ReadMono16k(new MemoryStream(WavBuilder.Build(interleaved, 16000, 2, 32, isFloat: true)));

        Assert.True(result.Succeeded, result.Message);
        var mono = result.Audio!;
        Assert.Equal((16000, 1, left.Length), (mono.SampleRate, mono.Channels, mono.Length));
        for (var i = 0; i < left.Length; i++)
        {
            Assert.Equal((left[i] + right[i]) / 2, mono.Samples[i], 1e-6f);
        }
    }

    [Fact]
    public void FortyEightKilohertzStereoFileBecomesSixteenKilohertzMono()
    {
        var tone = Signals.Sine(1000, 48000, 1.0, 0.5);
        var interleaved = tone.SelectMany(x => new[] { x, x }).ToArray();

        var result = AudioFile.ReadMono16k(new MemoryStream(WavBuilder.Build(interleaved, 48000, 2, 16)));

        Assert.True(result.Succeeded, result.Message);
        var audio = result.Audio!;
        Assert.Equal((16000, 1, 16000), (audio.SampleRate, audio.Channels, audio.Length));
        Assert.Equal(0.5, Signals.ToneAmplitude(audio.Samples.AsSpan(2000, 12000), 1000, 16000), 0.005);
    }

    [Fact]
    public void ReadsFromPathAndReportsMissingFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"appliance-{Guid.NewGuid():N}.wav");
        File.WriteAllBytes(path, WavBuilder.Build(Ramp, 22050, 1, 16));
        try
        {
            var result = AudioFile.ReadMono16k(path);
            Assert.True(result.Succeeded, result.Message);
            Assert.Equal((int)Math.Ceiling(Ramp.Length * 16000 / 22050.0), result.Audio!.Length);
        }
        finally
        {
            File.Delete(path);
        }

        var missing = AudioFile.Read(path);
        Assert.Equal(AudioFileError.NotFound, missing.Error);
    }

    [Fact]
    public void NonSeekableStreamIsRead()
    {
        var bytes = WavBuilder.Build(Ramp, 16000, 1, 16);
        using var pipe = new ForwardOnlyStream(bytes);

        var result = AudioFile.Read(pipe);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(Ramp.Length, result.Audio!.Length);
    }

    [Fact]
    public void RawPcmS16AndF32AreRead()
    {
        var s16 = AudioFile.ReadRawPcm(new MemoryStream(WavBuilder.Encode(Ramp, 16, false)), new PcmFormat(8000, 2, PcmEncoding.S16LE));
        Assert.True(s16.Succeeded, s16.Message);
        Assert.Equal((8000, 2, Ramp.Length / 2, false), (s16.Audio!.SampleRate, s16.Audio.Channels, s16.Audio.Length, s16.Audio.IsTruncated));

        var f32Bytes = WavBuilder.Encode(Ramp, 32, true);
        var f32 = AudioFile.ReadRawPcm(new MemoryStream(f32Bytes[..^2]), new PcmFormat(16000, 1, PcmEncoding.F32LE));
        Assert.True(f32.Succeeded, f32.Message);
        Assert.True(f32.Audio!.IsTruncated);
        Assert.Equal(Ramp[..^1], f32.Audio.Samples);
    }

    /// <summary>A stream that can only be read forward, like a network or pipe stream.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 100));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
