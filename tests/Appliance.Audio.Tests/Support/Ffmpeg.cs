using System.Runtime.InteropServices;
using Appliance.Tests.Common;

namespace Appliance.Audio.Tests.Support;

/// <summary>ffmpeg (Debian's <c>ffmpeg</c>, installed by ./test.sh) as the reference decoder for containers.</summary>
internal static class Ffmpeg
{
    /// <summary>Decodes a file at its own rate and channel count to interleaved 32-bit float samples.</summary>
    public static float[] DecodeFloat(string path)
    {
        ToolRunner.Require("ffmpeg", "ffmpeg");
        var raw = Path.Combine(Path.GetTempPath(), $"appliance-ffmpeg-{Guid.NewGuid():N}.f32");
        try
        {
            ToolRunner.Run("ffmpeg", ["-v", "error", "-i", path, "-f", "f32le", "-acodec", "pcm_f32le", "-y", raw]);
            return MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(raw)).ToArray();
        }
        finally
        {
            File.Delete(raw);
        }
    }
}
