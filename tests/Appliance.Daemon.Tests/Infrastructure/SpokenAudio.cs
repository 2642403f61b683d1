using Appliance.Audio;
using Appliance.Tests.Common;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>Speech made by espeak-ng (Debian package; ./test.sh installs it), as 16 kHz mono samples.</summary>
internal static class SpokenAudio
{
    /// <summary>One utterance, spoken at <paramref name="wordsPerMinute"/>.</summary>
    public static float[] Say(string folder, string text, int wordsPerMinute = 160)
    {
        var clip = Path.Combine(folder, $"spoken-{Guid.NewGuid():N}.wav");
        ToolRunner.Require("espeak-ng", "espeak-ng");
        ToolRunner.Run("espeak-ng", ["-v", "en-us", "-s", wordsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture), "-w", clip, text]);
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
}
