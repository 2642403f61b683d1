using Appliance.Audio.Tests.Support;

namespace Appliance.Audio.Tests;

public sealed class WhisperLogMelTests
{
    [Fact]
    public void SilenceIsTheFloorEverywhere()
    {
        // log10(1e-10) = -10 everywhere, so the maximum is -10 and (x + 4) / 4 = -1.5.
        var features = new WhisperLogMel(80).ComputeWindow(new float[16000]);

        Assert.Equal(80 * 3000, features.Length);
        Assert.All(features, value => Assert.Equal(-1.5f, value));
    }

    [Theory]
    [InlineData(80)]
    [InlineData(128)]
    public void ToneLightsTheMelBinAroundItsFrequency(int melBins)
    {
        var extractor = new WhisperLogMel(melBins);
        var features = extractor.ComputeWindow(Signals.Sine(1000, 16000, 5.0));

        // Frame 250 (2.5 s) is inside the tone; its loudest mel bin holds 1 kHz.
        var column = Enumerable.Range(0, melBins).Select(m => features[(m * 3000) + 250]).ToArray();
        var loudest = Array.IndexOf(column, column.Max());
        var filters = new MelFilterBank(melBins, 400, 16000);
        Assert.True(filters.NonZeroWeights(loudest).Length > 0);
        Assert.InRange(1000.0 / 40, filters.First[loudest], filters.First[loudest] + filters.Count[loudest]);
        Assert.Equal(features.Max(), column.Max());

        // After the tone (5 s onward) only zero padding is left: the floor, max - 8, scaled.
        Assert.Equal((features.Max() * 4) - 4 - 8, (features[(3 * 3000) + 2000] * 4) - 4, 1e-4);
    }

    [Fact]
    public void FilterBankIsSlaneyNormalised()
    {
        // Slaney normalisation makes each triangle's area in Hz equal to 1: sum(weights) × bin width (40 Hz) ≈ 1.
        var filters = new MelFilterBank(80, 400, 16000);
        for (var m = 1; m < 80; m++)
        {
            var area = filters.NonZeroWeights(m).ToArray().Sum() * 40.0;
            Assert.InRange(area, 0.85, 1.15);
        }
    }

    [Fact]
    public void WindowsCoverLongAudio()
    {
        Assert.Equal(1, WhisperLogMel.GetWindowCount(0));
        Assert.Equal(1, WhisperLogMel.GetWindowCount(480000));
        Assert.Equal(2, WhisperLogMel.GetWindowCount(480001));
        Assert.Equal(4, WhisperLogMel.GetWindowCount(1920000));

        var extractor = new WhisperLogMel(80);
        var audio = Signals.ChirpWithNoise(16000, 65);
        var windows = extractor.ComputeAllWindows(audio);
        Assert.Equal(3, windows.Length);
        Assert.Equal(extractor.ComputeWindow(audio.AsSpan(480000, 480000)), windows[1]);
    }

    [Fact]
    public void ParallelAndSerialAgreeExactly()
    {
        var audio = Signals.ChirpWithNoise(16000, 30);

        Assert.Equal(new WhisperLogMel(128).ComputeWindow(audio), new WhisperLogMel(128, maxDegreeOfParallelism: 2).ComputeWindow(audio));
    }

    [Fact]
    public void PowerSpectrumMatchesADirectDft()
    {
        var random = new Random(4);
        var a = Enumerable.Range(0, 400).Select(_ => random.NextDouble() - 0.5).ToArray();
        var b = Enumerable.Range(0, 400).Select(_ => random.NextDouble() - 0.5).ToArray();
        var powerA = new float[201];
        var powerB = new float[201];

        new PowerSpectrum(400).ComputePair(a, b, powerA, powerB);

        for (var k = 0; k < 201; k++)
        {
            Assert.Equal(DirectPower(a, k), powerA[k], DirectPower(a, k) * 1e-6);
            Assert.Equal(DirectPower(b, k), powerB[k], DirectPower(b, k) * 1e-6);
        }
    }

    [Fact]
    public void MisuseThrows()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WhisperLogMel(64));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WhisperLogMel(80, 0));
        Assert.Throws<ArgumentException>(() => new WhisperLogMel(80).ComputeWindow(new float[10], new float[10]));
    }

    private static double DirectPower(double[] x, int k)
    {
        double re = 0, im = 0;
        for (var n = 0; n < x.Length; n++)
        {
            re += x[n] * Math.Cos(2 * Math.PI * k * n / x.Length);
            im -= x[n] * Math.Sin(2 * Math.PI * k * n / x.Length);
        }

        return (re * re) + (im * im);
    }
}
