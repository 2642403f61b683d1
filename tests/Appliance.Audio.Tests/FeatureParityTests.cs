using Appliance.Audio.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Audio.Tests;

/// <summary>
/// Whisper features against an independent implementation, transformers.js's WhisperFeatureExtractor, run by node
/// from reference/ (install it with <c>npm ci --prefix tests/Appliance.Audio.Tests/reference</c>). Every 30 s window
/// must agree within <see cref="Tolerance"/> (max absolute difference on the normalised log-mel values).
/// </summary>
public sealed class FeatureParityTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, int> SharedRecordings()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in new[] { "jfk.wav", "librispeech_1272-141231-0002.wav", "librispeech_1272-141231-0002.mp3", "silero_test.wav", "tedlium_long_120s.wav" })
        {
            data.Add(name, 80);
            data.Add(name, 128);
        }

        return data;
    }

    /// <summary>Synthetic audio, so the comparison runs without the shared recordings: 40 s (two windows) of chirp and noise.</summary>
    [Theory]
    [InlineData(80)]
    [InlineData(128)]
    public void FeaturesMatchTransformersJsOnSyntheticAudio(int melBins)
    {
        var samples = Signals.ChirpWithNoise(16000, 40);
        var input = ReferenceHarness.WriteF32(samples);
        try
        {
            AssertParity(samples, input, melBins, "synthetic chirp");
        }
        finally
        {
            File.Delete(input);
        }
    }

    /// <summary>
    /// The real recordings. WAV files go to the reference as files (it parses them itself); the MP3 is decoded here
    /// and both sides get the same float samples, because the reference has no MP3 decoder.
    /// </summary>
    [Theory]
    [Trait("Category", "Shared")]
    [MemberData(nameof(SharedRecordings))]
    public void FeaturesMatchTransformersJsOnSharedRecordings(string name, int melBins)
    {
        var path = TestPaths.SharedFile(name);
        var read = AudioFile.ReadMono16k(path);
        Assert.True(read.Succeeded, read.Message);
        var samples = read.Audio!.Samples;
        if (name.EndsWith(".wav", StringComparison.Ordinal))
        {
            AssertParity(samples, path, melBins, name);
            return;
        }

        var input = ReferenceHarness.WriteF32(samples);
        try
        {
            AssertParity(samples, input, melBins, name + " (decoded here)");
        }
        finally
        {
            File.Delete(input);
        }
    }

    private void AssertParity(float[] samples, string referenceInput, int melBins, string label)
    {
        var expected = ReferenceHarness.Compute(referenceInput, melBins);
        var extractor = new WhisperLogMel(melBins);
        var actual = extractor.ComputeAllWindows(samples);
        Assert.Equal(expected.Length, actual.Length);
        for (var w = 0; w < actual.Length; w++)
        {
            var maxDiff = 0.0;
            var at = 0;
            for (var i = 0; i < actual[w].Length; i++)
            {
                var diff = Math.Abs((double)actual[w][i] - expected[w][i]);
                if (diff > maxDiff)
                {
                    maxDiff = diff;
                    at = i;
                }
            }

            output.WriteLine($"{label}, {melBins} mels, window {w}: max |diff| = {maxDiff:E3} at mel {at / WhisperLogMel.WindowFrames}, frame {at % WhisperLogMel.WindowFrames}");
            Assert.True(maxDiff <= Tolerance, $"{label}, {melBins} mels, window {w}: max |diff| {maxDiff:E3} > {Tolerance:E0} at mel {at / WhisperLogMel.WindowFrames}, frame {at % WhisperLogMel.WindowFrames} (ours {actual[w][at]}, reference {expected[w][at]})");
        }
    }
}
