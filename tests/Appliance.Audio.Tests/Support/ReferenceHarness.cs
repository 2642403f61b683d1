using Appliance.Tests.Common;
using System.Runtime.InteropServices;

namespace Appliance.Audio.Tests.Support;

/// <summary>Calls reference/whisper_features.mjs (transformers.js WhisperFeatureExtractor) and reads its features back.</summary>
internal static class ReferenceHarness
{
    /// <summary>Features of every 30 s window of <paramref name="inputPath"/> (.wav, or raw float32 .f32), window by window.</summary>
    public static float[][] Compute(string inputPath, int melBins)
    {
        TestPaths.RequireReference();
        var output = Path.Combine(Path.GetTempPath(), $"appliance-ref-{Guid.NewGuid():N}.f32");
        try
        {
            ToolRunner.Run(
                "node",
                [Path.Combine(TestPaths.ReferenceDirectory, "whisper_features.mjs"), inputPath, output, melBins.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                TestPaths.ReferenceDirectory);
            var all = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray();
            var windowLength = melBins * WhisperLogMel.WindowFrames;
            Assert.Equal(0, all.Length % windowLength);
            return all.Chunk(windowLength).ToArray();
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>Writes samples as raw little-endian float32 for the harness.</summary>
    public static string WriteF32(float[] samples)
    {
        var path = Path.Combine(Path.GetTempPath(), $"appliance-in-{Guid.NewGuid():N}.f32");
        File.WriteAllBytes(path, MemoryMarshal.AsBytes(samples.AsSpan()).ToArray());
        return path;
    }
}
