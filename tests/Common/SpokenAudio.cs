using System.Buffers.Binary;
using Appliance.Audio;

namespace Appliance.Tests.Common;

/// <summary>Speech made by espeak-ng (Debian package; ./test.sh installs it), as 16 kHz mono samples, and cut into meeting frames. Compiled into each test project that needs it.</summary>
internal static class SpokenAudio
{
    /// <summary>One utterance, spoken at <paramref name="wordsPerMinute"/> in espeak-ng's <paramref name="voice"/> (the text is never read as options).</summary>
    public static float[] Say(string folder, string text, int wordsPerMinute = 160, string voice = "en-us")
    {
        var clip = Path.Combine(folder, $"spoken-{Guid.NewGuid():N}.wav");
        ToolRunner.Require("espeak-ng", "espeak-ng");
        ToolRunner.Run("espeak-ng", ["-v", voice, "-s", wordsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture), "-w", clip, "--", text]);
        return AudioFile.ReadMono16k(clip).GetAudioOrThrow().Samples;
    }

    /// <summary>A sentence said again and again with half-second pauses, up to <paramref name="seconds"/>.</summary>
    public static float[] Repeated(string folder, string sentence, double seconds)
    {
        var spoken = Say(folder, sentence);
        var samples = new float[(int)(seconds * SpeechAudio.SampleRate)];
        for (var offset = 0; offset < samples.Length; offset += spoken.Length + (SpeechAudio.SampleRate / 2))
        {
            spoken.AsSpan(0, Math.Min(spoken.Length, samples.Length - offset)).CopyTo(samples.AsSpan(offset));
        }

        return samples;
    }

    /// <summary>16 kHz mono samples as 20 ms frames of 16-bit little-endian PCM (320 samples each; a partial last frame is left out).</summary>
    public static List<byte[]> PcmFrames(float[] samples)
    {
        const int FrameSamples = 320;
        var frames = new List<byte[]>();
        for (var offset = 0; offset + FrameSamples <= samples.Length; offset += FrameSamples)
        {
            frames.Add(Pcm16(samples.AsSpan(offset, FrameSamples)));
        }

        return frames;
    }

    /// <summary>Samples in [-1, 1] as 16-bit little-endian PCM (s16le), two bytes each.</summary>
    public static byte[] Pcm16(ReadOnlySpan<float> samples)
    {
        var pcm = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(pcm.AsSpan(2 * i), (short)(samples[i] * 32767));
        }

        return pcm;
    }
}
