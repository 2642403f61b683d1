using Appliance.Tests.Common;
using Appliance.Audio;

namespace Appliance.Speech.Tests.Support;

/// <summary>A part of a built clip: speech (text) or silence (seconds).</summary>
internal abstract record ClipPart;

internal sealed record Say(string Text, string Voice = "en", int WordsPerMinute = 160) : ClipPart;

internal sealed record Pause(double Seconds) : ClipPart;

/// <summary>
/// Builds a 16 kHz clip with known speech boundaries: each utterance is spoken by espeak-ng, converted to 16 kHz by sox
/// and trimmed of espeak's own leading and trailing silence; pauses are digital silence made by sox; sox concatenates.
/// The boundaries are then exact sample positions, and the clip is the same on every run (no dither).
/// </summary>
internal sealed class SpokenClip
{
    private SpokenClip(float[] samples, IReadOnlyList<(long Start, long End, string Text)> utterances)
    {
        Samples = samples;
        Utterances = utterances;
    }

    public float[] Samples { get; }

    public IReadOnlyList<(long Start, long End, string Text)> Utterances { get; }

    public static SpokenClip Build(params ClipPart[] parts)
    {
        ToolRunner.Require("espeak-ng", "espeak-ng");
        ToolRunner.Require("sox", "sox");
        var folder = Path.Combine(Path.GetTempPath(), "speech-clip-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var files = new List<string>();
            var utterances = new List<(long, long, string)>();
            long position = 0;
            for (var i = 0; i < parts.Length; i++)
            {
                var file = Path.Combine(folder, $"{i:D2}.wav");
                if (parts[i] is Say say)
                {
                    var raw = Path.Combine(folder, $"{i:D2}-espeak.wav");
                    ToolRunner.Run("espeak-ng", ["-v", say.Voice, "-s", say.WordsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture), "-w", raw, say.Text]);
                    // Resample without dither (-D: the clip must be the same on every run), then trim silence at both
                    // ends (silence effect forwards, reversed, forwards again).
                    ToolRunner.Run("sox", ["-D", raw, "-r", "16000", "-c", "1", "-b", "16", file, "silence", "1", "0.005", "0.5%", "reverse", "silence", "1", "0.005", "0.5%", "reverse"]);
                }
                else
                {
                    var seconds = ((Pause)parts[i]).Seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    ToolRunner.Run("sox", ["-D", "-n", "-r", "16000", "-c", "1", "-b", "16", file, "trim", "0", seconds]);
                }

                var length = AudioFile.ReadMono16k(file).GetAudioOrThrow().Samples.Length;
                if (parts[i] is Say spoken)
                {
                    utterances.Add((position, position + length, spoken.Text));
                }

                position += length;
                files.Add(file);
            }

            var clip = Path.Combine(folder, "clip.wav");
            ToolRunner.Run("sox", ["-D", .. files, clip]);
            var samples = AudioFile.ReadMono16k(clip).GetAudioOrThrow().Samples;
            Assert.Equal(position, samples.Length);
            return new SpokenClip(samples, utterances);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
