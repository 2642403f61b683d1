using Appliance.Audio.Tests.Support;

namespace Appliance.Audio.Tests;

/// <summary>
/// Resampling quality. Tolerances: a pass-band tone keeps its amplitude within 0.5 % (0.04 dB) and its frequency
/// exactly (what is left after removing the best-fitting sinusoid at the expected frequency is at least 60 dB below
/// it; a frequency error of 0.01 % would leave far more over one second); a tone above the output Nyquist
/// frequency comes out at least 40 dB down (the design gives about 80 dB); up-sampling images likewise.
/// Measurements skip 50 ms at each end.
/// </summary>
public sealed class ResamplerTests
{
    private const int Out = 16000;
    private const int Edge = 800;

    [Theory]
    [InlineData(44100, 1000.0)]
    [InlineData(48000, 1000.0)]
    [InlineData(48000, 7000.0)]
    [InlineData(8000, 440.0)]
    [InlineData(8000, 3500.0)]
    [InlineData(22050, 3000.0)]
    [InlineData(11025, 2000.0)]
    [InlineData(32000, 6000.0)]
    [InlineData(96000, 5000.0)]
    public void PassBandToneKeepsFrequencyAndAmplitude(int inputRate, double frequency)
    {
        var output = Resampler.ResampleAll(Signals.Sine(frequency, inputRate, 1.0, 0.5), inputRate, Out);
        var steady = output.AsSpan(Edge, output.Length - (2 * Edge));

        Assert.Equal(Out, output.Length);
        var amplitude = Signals.ToneAmplitude(steady, frequency, Out);
        Assert.InRange(amplitude, 0.5 * 0.995, 0.5 * 1.005);
        var residualDb = 20 * Math.Log10(Signals.ResidualAfterTone(steady, frequency, Out) / (0.5 / Math.Sqrt(2)));
        Assert.True(residualDb < -60, $"residual {residualDb:F1} dB");
    }

    [Theory]
    [InlineData(48000, 9000.0)]
    [InlineData(48000, 12000.0)]
    [InlineData(48000, 20000.0)]
    [InlineData(44100, 8500.0)]
    [InlineData(44100, 15000.0)]
    [InlineData(22050, 10000.0)]
    public void ToneAboveNyquistIsSuppressedByFortyDecibels(int inputRate, double frequency)
    {
        var output = Resampler.ResampleAll(Signals.Sine(frequency, inputRate, 1.0, 0.5), inputRate, Out);
        var steady = output.AsSpan(Edge, output.Length - (2 * Edge));

        var alias = Math.Abs(Out - (frequency % Out)) % Out;
        var aliasDb = 20 * Math.Log10(Math.Max(Signals.ToneAmplitude(steady, alias, Out), 1e-12) / 0.5);
        var totalDb = 20 * Math.Log10(Math.Max(Signals.Rms(steady), 1e-12) / (0.5 / Math.Sqrt(2)));
        Assert.True(aliasDb <= -40, $"alias at {alias} Hz: {aliasDb:F1} dB");
        Assert.True(totalDb <= -40, $"everything left: {totalDb:F1} dB");
    }

    [Fact]
    public void UpSamplingImagesAreSuppressedByFortyDecibels()
    {
        var output = Resampler.ResampleAll(Signals.Sine(3000, 8000, 1.0, 0.5), 8000, Out);
        var steady = output.AsSpan(Edge, output.Length - (2 * Edge));

        var imageDb = 20 * Math.Log10(Signals.ToneAmplitude(steady, 5000, Out) / 0.5);
        Assert.True(imageDb <= -40, $"image at 5 kHz: {imageDb:F1} dB");
        Assert.InRange(Signals.ToneAmplitude(steady, 3000, Out), 0.4975, 0.5025);
    }

    [Theory]
    [InlineData(44100)]
    [InlineData(48000)]
    [InlineData(8000)]
    [InlineData(16000)]
    public void ChunkedStreamingEqualsOnePiece(int inputRate)
    {
        var input = Signals.ChirpWithNoise(inputRate, 1.3);
        var whole = Resampler.ResampleAll(input, inputRate, Out);

        var random = new Random(inputRate);
        var resampler = new Resampler(inputRate, Out);
        var chunked = new List<float>();
        var buffer = new float[resampler.GetMaxOutputLength(20000)];
        for (var position = 0; position < input.Length;)
        {
            var size = Math.Min(input.Length - position, random.Next(0, 4) == 0 ? random.Next(0, 3) : random.Next(1, 20000));
            var written = resampler.Process(input.AsSpan(position, size), buffer);
            chunked.AddRange(buffer.AsSpan(0, written));
            position += size;
        }

        chunked.AddRange(buffer.AsSpan(0, resampler.Flush(buffer)));

        Assert.Equal(whole, chunked.ToArray());
        Assert.Equal((int)Math.Ceiling(input.Length * (double)Out / inputRate), whole.Length);
    }

    [Fact]
    public void OutputIsNotDelayed()
    {
        // A click at input sample 4410 (100 ms) must peak at output sample 1600.
        var input = new float[44100];
        input[4410] = 1f;
        var output = Resampler.ResampleAll(input, 44100, Out);

        var peak = output.AsSpan().IndexOf(output.Max());
        Assert.Equal(1600, peak);
    }

    [Fact]
    public void ConstantStaysConstant()
    {
        var input = Enumerable.Repeat(0.25f, 48000).ToArray();
        var output = Resampler.ResampleAll(input, 48000, Out);

        foreach (var value in output.AsSpan(200, output.Length - 400))
        {
            Assert.Equal(0.25f, value, 1e-5f);
        }
    }

    [Fact]
    public void MisuseThrows()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Resampler(0, Out));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Resampler(44101, 16001)); // 16001 phases
        var resampler = new Resampler(48000, Out);
        Assert.Throws<ArgumentException>(() => resampler.Process(new float[1000], new float[10]));
        resampler.Flush(new float[resampler.GetMaxOutputLength(0)]);
        Assert.Throws<InvalidOperationException>(() => resampler.Process(new float[10], new float[1000]));
        resampler.Reset();
        Assert.True(resampler.Process(new float[1000], new float[resampler.GetMaxOutputLength(1000)]) >= 0);
    }
}
