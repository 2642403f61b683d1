using System.Globalization;
using System.Runtime.InteropServices;
using Appliance.Tests.Common;

namespace Appliance.Audio.Tests.Support;

/// <summary>What ffmpeg decodes from a file: interleaved float samples at the rate (Hz) and channel count of its audio stream.</summary>
internal sealed record ReferenceAudio(float[] Samples, int SampleRate, int Channels)
{
    /// <summary>Samples per channel.</summary>
    public int Length => Samples.Length / Channels;
}

/// <summary>ffmpeg (Debian package ffmpeg) as the reference decoder and as the encoder of the test files.</summary>
internal static class FfmpegReference
{
    /// <summary>Fails the calling test, naming the Debian package, when ffmpeg or ffprobe is missing.</summary>
    public static void Require()
    {
        ToolRunner.Require("ffmpeg", "ffmpeg");
        ToolRunner.Require("ffprobe", "ffmpeg");
    }

    /// <summary>Runs ffmpeg quietly with the given arguments, overwriting outputs; fails the test when it fails.</summary>
    public static void Run(params string[] arguments) => ToolRunner.Run("ffmpeg", ["-v", "error", "-y", .. arguments]);

    /// <summary>
    /// Decodes the first audio stream of <paramref name="path"/> at its native rate and channel count to interleaved
    /// 32-bit float (<c>ffmpeg -i FILE -f f32le -acodec pcm_f32le</c>; Opus comes out at 48 kHz), with ffmpeg's
    /// default decoder for the stream or the one named by <paramref name="decoder"/> (e.g. libopus).
    /// </summary>
    public static ReferenceAudio Decode(string path, string? decoder = null)
    {
        var fields = ToolRunner.Run(
                "ffprobe",
                ["-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate,channels", "-of", "default=noprint_wrappers=1", path])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => int.Parse(pair[1], CultureInfo.InvariantCulture));

        var output = path + ".f32";
        try
        {
            string[] decoderArguments = decoder is null ? [] : ["-c:a", decoder];
            ToolRunner.Run("ffmpeg", ["-v", "error", .. decoderArguments, "-i", path, "-f", "f32le", "-acodec", "pcm_f32le", output]);
            var samples = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray();
            return new ReferenceAudio(samples, fields["sample_rate"], fields["channels"]);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
