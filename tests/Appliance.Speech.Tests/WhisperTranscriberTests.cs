using Appliance.Profiles;
using Appliance.Inference;
using Appliance.ModelForge.Whisper;
using Appliance.Speech.Tests.Support;
using Appliance.Speech.Vad;
using Appliance.Speech.Whisper;
using Xunit.Abstractions;

namespace Appliance.Speech.Tests;

/// <summary>Whisper decoding on the forged tiny model: greedy, beam, languages, timestamps, windows, cancellation, bad input.</summary>
[Collection(ForgedWhisperGroup.Name)]
public sealed class WhisperTranscriberTests(ForgedWhisperModel model, ITestOutputHelper output)
{
    private static readonly float[] s_tone = Tone(5);

    [Fact]
    public async Task GreedyTranscriptionGivesOneSegmentWithThePromptLanguage()
    {
        using var transcriber = Open();
        Assert.Equal("merged", transcriber.Info.DecoderLayout);
        Assert.Equal(WhisperPreset.Tiny.DecoderLayers, transcriber.Info.DecoderLayers);
        var result = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", MaxNewTokens = 12 });
        Assert.Null(result.Error);
        var segment = Assert.Single(result.Segments);
        output.WriteLine($"[{string.Join(", ", segment.Tokens)}] '{segment.Text}'");
        Assert.Equal("en", segment.Language);
        Assert.Equal(TimeSpan.Zero, segment.Start);
        Assert.Equal(TimeSpan.FromSeconds(5), segment.End);
        Assert.InRange(segment.Tokens.Count, 0, 12);
        Assert.DoesNotContain(segment.Tokens, t => t >= transcriber.Tokenizer.EndOfText);
    }

    [Theory]
    [InlineData("en")]
    [InlineData("fa")]
    [InlineData("ar")]
    [InlineData("zh")]
    public async Task ForcedLanguagesArePromptedAndDecoded(string language)
    {
        using var transcriber = Open();
        var result = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = language, MaxNewTokens = 6 });
        Assert.Null(result.Error);
        Assert.Equal(language, Assert.Single(result.Segments).Language);
    }

    [Fact]
    public async Task LanguageIsDetectedWhenNotGiven()
    {
        using var transcriber = Open();
        var detected = transcriber.DetectLanguage(s_tone);
        Assert.True(detected.IsSuccess);
        output.WriteLine($"detected {detected.Value.Language} p={detected.Value.Probability:F3}");
        Assert.Contains(detected.Value.Language, transcriber.Tokenizer.LanguageIds.Keys);
        var result = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, MaxNewTokens = 4 });
        Assert.Equal(detected.Value.Language, Assert.Single(result.Segments).Language);
    }

    [Fact]
    public async Task BeamSearchGivesTheSameTokensEveryRun()
    {
        using var transcriber = Open();
        var beam = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", BeamSize = 3, MaxNewTokens = 8 });
        var again = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", BeamSize = 3, MaxNewTokens = 8 });
        Assert.Null(beam.Error);
        Assert.Equal(Assert.Single(beam.Segments).Tokens, Assert.Single(again.Segments).Tokens);
        output.WriteLine($"beam: [{string.Join(", ", beam.Segments[0].Tokens)}]");
    }

    [Fact]
    public async Task TimestampModeFollowsTheTimestampRules()
    {
        using var transcriber = Open();
        var tokenizer = transcriber.Tokenizer;
        var result = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", Timestamps = true, MaxNewTokens = 20 });
        Assert.Null(result.Error);
        var tokens = result.Segments.SelectMany(s => s.Tokens).ToList();
        output.WriteLine($"[{string.Join(", ", tokens)}]");
        foreach (var s in result.Segments)
        {
            output.WriteLine($"{s.Start.TotalSeconds:F2}-{s.End.TotalSeconds:F2} '{s.Text}'");
        }

        Assert.NotEmpty(tokens);
        Assert.True(tokenizer.IsTimestamp(tokens[0]), "the first generated token is a timestamp");
        Assert.InRange(tokenizer.TimestampSeconds(tokens[0]), 0, 1.0);
        Assert.DoesNotContain(tokenizer.NoTimestamps, tokens);
        var stamps = tokens.Where(tokenizer.IsTimestamp).ToList();
        Assert.Equal(stamps.Order(), stamps);
        Assert.All(result.Segments, s => Assert.True(s.Start <= s.End));
    }

    [Fact]
    public async Task TimestampsPastTheAudioOfTheLastShortWindowAreHeldAtItsEnd()
    {
        // 70 s: the last window holds 10 s of audio, and the forged model's sampled timestamps run up to 30 s. Before,
        // the segment opened by such a timestamp started at 84.4 s and ended at 70 s.
        using var transcriber = Open();
        var result = await transcriber.TranscribeAsync(Tone(70), new TranscriptionOptions { Settings = new TranscriptionSettings(), Language = "en", BeamSize = 2, Timestamps = true, MaxNewTokens = 20 });
        Assert.Null(result.Error);
        Assert.Contains(result.Segments, s => s.Window == 2);
        Assert.All(result.Segments, s =>
        {
            Assert.True(s.Start <= s.End, $"{s.Start}-{s.End} in window {s.Window}");
            Assert.True(s.End <= TimeSpan.FromSeconds(70), $"{s.Start}-{s.End} in window {s.Window}");
        });
    }

    [Fact]
    public async Task LongAudioIsDecodedInWindowsAndSegmentsStreamAsTheyAreReady()
    {
        using var transcriber = Open();
        var audio = Tone(70);
        var events = new List<TranscriptionEvent>();
        await foreach (var e in transcriber.StreamAsync(audio, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", MaxNewTokens = 3 }))
        {
            events.Add(e);
        }

        var segments = events.OfType<RecognizedSegmentEvent>().Select(e => e.Segment).ToList();
        Assert.Equal([0, 1, 2], segments.Select(s => s.Window));
        Assert.Equal(TimeSpan.Zero, segments[0].Start);
        for (var i = 1; i < segments.Count; i++)
        {
            // Each cut falls in the last 5 s of a full window, where the sound is quietest.
            Assert.Equal(segments[i - 1].End, segments[i].Start);
            Assert.InRange((segments[i].Start - segments[i - 1].Start).TotalSeconds, 25, 30);
        }

        Assert.Equal(TimeSpan.FromSeconds(70), segments[^1].End);
        Assert.Equal(new TranscriptionCompleted(3, false), events[^1]);
    }

    [Fact]
    public void WindowsFollowVadBoundaries()
    {
        const long S = 16000;
        SpeechSegment[] speech = [new(1 * S, 10 * S), new(12 * S, 29 * S), new(30 * S, 45 * S), new(50 * S, 120 * S)];
        var silence = new float[130 * S];
        var windows = LongFormPlanner.Plan(silence, speech, 30 * S);
        Assert.Equal([(1 * S, 29 * S), (30 * S, 45 * S), (50 * S, 80 * S), (80 * S, 110 * S), (110 * S, 120 * S)], windows);
        Assert.Empty(LongFormPlanner.Plan(silence, [], 30 * S));
    }

    /// <summary>
    /// asr-30s-tail, as a kind: speech just over 30 s with a quiet moment inside its last 5 s is cut there, not at
    /// 30.000 s, and wherever the quiet moment is, the rest is at least 1 s.
    /// </summary>
    [Theory]
    [InlineData(30.2, 27.4)]
    [InlineData(30.2, 29.9)]
    [InlineData(31.0, 26.0)]
    [InlineData(45.0, 28.0)]
    public void A_segment_just_over_a_window_is_cut_at_its_quietest_point_leaving_at_least_a_second(double speechSeconds, double quietAt)
    {
        const long S = 16000;
        var audio = Tone(50);
        var quiet = (long)(quietAt * S);
        audio.AsSpan((int)quiet - 800, 1600).Clear(); // 100 ms of silence inside continuous sound
        var end = (long)(speechSeconds * S);

        var windows = LongFormPlanner.Plan(audio, [new(0, end)], 30 * S);

        var (first, rest) = (windows[0], windows[1]);
        Assert.Equal(2, windows.Count);
        if (quiet <= end - S)
        {
            Assert.InRange(first.End, quiet - 400, quiet + 400);
        }

        Assert.Equal((first.End, end), rest);
        Assert.All(windows, w => Assert.InRange(w.End - w.Start, S, 30 * S));
    }

    /// <summary>
    /// No sample is decoded in two windows: a short window between full ones widens only into the audio between them.
    /// A segment inside another does not shorten the window.
    /// </summary>
    [Fact]
    public void Short_windows_widen_between_their_neighbours_and_nested_segments_keep_the_window()
    {
        const long S = 16000;
        var silence = new float[(int)(90 * S)];

        var widened = LongFormPlanner.Plan(silence, [new(0, 29 * S), new((long)(29.9 * S), (long)(30.2 * S)), new(31 * S, 61 * S)], 30 * S);
        var nested = LongFormPlanner.Plan(silence, [new(1 * S, 20 * S), new(5 * S, 6 * S)], 30 * S);

        Assert.Equal([(0, 29 * S), ((long)(29.55 * S), (long)(30.55 * S)), (31 * S, 61 * S)], widened);
        Assert.Equal([(1 * S, 20 * S)], nested);
    }

    /// <summary>A lone utterance shorter than 1 s is decoded with the audio around it, never on its own.</summary>
    [Theory]
    [InlineData(5.0, 5.3, 10.0)]
    [InlineData(0.0, 0.2, 10.0)]
    [InlineData(9.9, 10.0, 10.0)]
    public void A_window_under_a_second_is_widened_to_a_second(double from, double to, double audioSeconds)
    {
        const long S = 16000;
        var windows = LongFormPlanner.Plan(new float[(int)(audioSeconds * S)], [new((long)(from * S), (long)(to * S))], 30 * S);

        var window = Assert.Single(windows);
        Assert.Equal(S, window.End - window.Start);
        Assert.True(window.Start <= (long)(from * S) && window.End >= (long)(to * S), $"{window} does not hold the utterance");
    }

    [Fact]
    public async Task CancellationStopsWithinOneDecoderStep()
    {
        using var transcriber = Open();
        using var cts = new CancellationTokenSource();
        var steps = 0;
        var stepsAtCancel = 0;
        var progress = new SynchronousProgress<int>(n =>
        {
            steps = n;
            if (n == 5)
            {
                stepsAtCancel = n;
                cts.Cancel();
            }
        });
        var result = await transcriber.TranscribeAsync(Tone(70), new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", MaxNewTokens = 50, DecoderSteps = progress }, cts.Token);
        Assert.True(result.Cancelled);
        Assert.Null(result.Error);
        Assert.InRange(steps - stepsAtCancel, 0, 1);
        output.WriteLine($"cancelled at step {stepsAtCancel}; steps started in all: {steps}");
    }

    [Fact]
    public async Task BadInputComesBackAsErrorValues()
    {
        using var transcriber = Open();
        Assert.Equal(SpeechErrorCode.EmptyAudio, (await transcriber.TranscribeAsync(ReadOnlyMemory<float>.Empty)).Error?.Code);
        var unknown = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "xx" });
        Assert.Equal(SpeechErrorCode.UnknownLanguage, unknown.Error?.Code);
        Assert.Contains("'xx'", unknown.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(SpeechErrorCode.InvalidOptions, (await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, BeamSize = 0 })).Error?.Code);
        Assert.Equal(SpeechErrorCode.EmptyAudio, transcriber.DetectLanguage([]).Error?.Code);
        Assert.Equal(SpeechErrorCode.ModelMissing, WhisperTranscriber.Open("/nonexistent").Error?.Code);
        var silence = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", Speech = [] });
        Assert.Null(silence.Error);
        Assert.Empty(silence.Segments);
    }

    [Fact]
    public async Task AnUnavailableProviderFallsBackToCpu()
    {
        var options = new InferenceSettings
        {
            ExecutionProviders = [new Profiles.ExecutionProviderSpec { Name = "CUDAExecutionProvider" }, new Profiles.ExecutionProviderSpec { Name = "XnnpackExecutionProvider" }],
            IntraOpThreads = 1,
            InstalledProviders = () => ["CUDAExecutionProvider", "CPUExecutionProvider"],
        };
        var opened = WhisperTranscriber.Open(model.Directory, options);
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        using var transcriber = opened.Value;
        output.WriteLine($"{transcriber.Info.ExecutionProvider}; fallbacks: {string.Join(" | ", transcriber.Info.ProviderFallbacks)}");
        Assert.Equal("CPUExecutionProvider", transcriber.Info.ExecutionProvider);
        Assert.Contains(transcriber.Info.ProviderFallbacks, f => f.StartsWith("CUDAExecutionProvider", StringComparison.Ordinal));
        Assert.Null((await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", MaxNewTokens = 2 })).Error);
    }

    internal static float[] Tone(double seconds)
    {
        var samples = new float[(int)(seconds * 16000)];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (0.2f * MathF.Sin(2 * MathF.PI * 220 * i / 16000)) + (0.1f * MathF.Sin(2 * MathF.PI * 1234 * i / 16000 * (1 + (i / 320000f))));
        }

        return samples;
    }

    private WhisperTranscriber Open()
    {
        var opened = WhisperTranscriber.Open(model.Directory, InferenceSettings.Cpu(1));
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        return opened.Value;
    }
}
