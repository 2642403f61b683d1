using Appliance.Inference;
using Appliance.ModelForge.Whisper;
using Appliance.Profiles;
using Appliance.Speech.Tests.Support;
using Appliance.Speech.Whisper;
using Xunit.Abstractions;

namespace Appliance.Speech.Tests;

/// <summary>
/// Whisper's hallucination guards, each shown firing on a forged model whose logit biases make it behave the way
/// the guard exists for, whatever it hears: one sure that every window is silent, one that loops on a token, one
/// that prefers a language the device does not speak. Each test also decodes without guards, so the difference is the
/// guard's doing.
/// </summary>
public sealed class HallucinationGuardTests(ITestOutputHelper output) : IClassFixture<HallucinationGuardTests.Models>
{
    private static readonly float[] s_tone = WhisperTranscriberTests.Tone(5);

    /// <summary>A no-speech probability over 0.6 with an average log-probability under −1.0: the window yields no text.</summary>
    [Fact]
    public async Task A_window_the_model_hears_as_silence_yields_no_text()
    {
        using var transcriber = Open(Models.Folder("no-speech", new Dictionary<int, float> { [Models.Tokenizer.NoSpeech!.Value] = 40 }));

        var (guarded, window) = await TranscribeAsync(transcriber, new TranscriptionSettings());
        var (bare, _) = await TranscribeAsync(transcriber, TranscriptionSettings.Unguarded);

        output.WriteLine($"{window}; without guards: '{bare.Text}'");
        Assert.NotEmpty(bare.Text);
        Assert.Equal(WindowVerdict.NoSpeech, window.Verdict);
        Assert.True(window.NoSpeechProbability > 0.6, $"no-speech probability {window.NoSpeechProbability}");
        Assert.True(window.AverageLogProbability < -1.0, $"average log-probability {window.AverageLogProbability}");
        Assert.Equal(0, window.Fallbacks); // silence is not retried at higher temperatures
        Assert.Empty(guarded.Segments);
    }

    /// <summary>
    /// Silence takes both signs, as in the reference: a window the model hears as silent but decodes confidently (here
    /// a loop) is not skipped as silence; its loop is retried and cut like any other.
    /// </summary>
    [Fact]
    public async Task A_confident_text_in_a_window_heard_as_silent_is_judged_by_the_other_guards()
    {
        using var transcriber = Open(Models.Folder("silent-loop", new Dictionary<int, float> { [Models.Tokenizer.NoSpeech!.Value] = 40, [Models.LoopToken] = 30 }));

        var (result, window) = await TranscribeAsync(transcriber, new TranscriptionSettings());

        output.WriteLine(window.ToString());
        Assert.True(window.NoSpeechProbability > 0.6 && window.AverageLogProbability > -1.0, window.ToString());
        Assert.Equal(WindowVerdict.Looped, window.Verdict);
        Assert.Equal(5, window.Fallbacks);
        Assert.Equal([Models.LoopToken], result.Segments[0].Tokens);
    }

    /// <summary>
    /// Random weights give unlikely tokens (average log-probability far under −1.0): the window is retried at every
    /// temperature, 0.2 to 1.0, with the best of 5 samples, and the last decode's text is kept.
    /// </summary>
    [Fact]
    public async Task An_unlikely_text_is_retried_at_each_higher_temperature()
    {
        using var transcriber = Open(Models.Folder("plain", null));

        var (guarded, window) = await TranscribeAsync(transcriber, new TranscriptionSettings());

        output.WriteLine($"{window}: '{guarded.Text}'");
        Assert.Equal(WindowVerdict.Text, window.Verdict);
        Assert.Equal(5, window.Fallbacks);
        Assert.Equal(1.0, window.Temperature);
        Assert.True(window.AverageLogProbability < -1.0);
        Assert.NotEmpty(guarded.Text);

        var (once, first) = await TranscribeAsync(transcriber, new TranscriptionSettings { LogProbThreshold = null });
        Assert.Equal((0, 0.0), (first.Fallbacks, first.Temperature)); // without the log-probability guard nothing asks for a retry
        Assert.NotEmpty(once.Text);
    }

    /// <summary>
    /// A model that repeats one token: with the repetition detector off, the compression-ratio guard (text over 2.4
    /// times its zlib size) retries every temperature, though each token is likely; with the detector on, decoding stops
    /// at the loop and the text keeps the repeated token once.
    /// </summary>
    [Fact]
    public async Task A_loop_is_caught_by_the_compression_ratio_and_cut_by_the_repetition_detector()
    {
        var looping = Models.LoopToken;
        using var transcriber = Open(Models.Folder("loop", new Dictionary<int, float> { [looping] = 30 }));

        var (bare, _) = await TranscribeAsync(transcriber, TranscriptionSettings.Unguarded);
        var (compressed, ratio) = await TranscribeAsync(transcriber, new TranscriptionSettings { RepetitionLimit = 0 });
        var (cut, loop) = await TranscribeAsync(transcriber, new TranscriptionSettings());

        output.WriteLine($"bare: {bare.Segments[0].Tokens.Count} tokens; {ratio}; {loop}: '{cut.Text}'");
        Assert.Equal(Models.MaxNewTokens, bare.Segments[0].Tokens.Count);
        Assert.All(bare.Segments[0].Tokens, t => Assert.Equal(looping, t));
        Assert.True(ratio.CompressionRatio > 2.4 && ratio.AverageLogProbability > -1.0, ratio.ToString());
        Assert.Equal(5, ratio.Fallbacks);
        Assert.Equal(WindowVerdict.Looped, loop.Verdict);
        Assert.Equal([looping], cut.Segments[0].Tokens);
    }

    /// <summary>
    /// The profile's languages: a model that prefers German is detected as German without a list, as English or
    /// Persian with the list [en, fa]; a forced language needs no detection; a request for a language outside the list
    /// is refused.
    /// </summary>
    [Fact]
    public async Task Detection_picks_the_most_likely_allowed_language_and_others_are_refused()
    {
        var german = Models.Tokenizer.LanguageIds["de"];
        using var transcriber = Open(Models.Folder("german", new Dictionary<int, float> { [german] = 30 }));
        async Task<string?> LanguageAsync(TranscriptionSettings settings, string? asked = null)
        {
            var result = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = settings with { Temperatures = [0], LogProbThreshold = null }, Language = asked, MaxNewTokens = 4 });
            Assert.Null(result.Error);
            return Assert.Single(result.Segments).Language;
        }

        Assert.Equal("de", await LanguageAsync(new TranscriptionSettings()));
        Assert.True(await LanguageAsync(new TranscriptionSettings { Languages = ["en", "fa"] }) is "en" or "fa");
        Assert.Equal("fa", await LanguageAsync(new TranscriptionSettings { Languages = ["en", "fa"], Language = "fa" }));
        var refused = await transcriber.TranscribeAsync(s_tone, new TranscriptionOptions { Settings = new TranscriptionSettings { Languages = ["en", "fa"] }, Language = "de" });
        Assert.Equal(SpeechErrorCode.UnknownLanguage, refused.Error?.Code);
        Assert.Contains("not one of this device's languages (en, fa)", refused.Error!.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Conditioning on the previous text (off by default): the second window is prompted with
    /// <c>&lt;|startofprev|&gt;</c> and the first window's tokens, so its decode changes while the first stays the same.
    /// </summary>
    [Fact]
    public async Task The_previous_window_can_prompt_the_next_one()
    {
        using var transcriber = Open(Models.Folder("plain", null));
        var audio = WhisperTranscriberTests.Tone(50);
        async Task<IReadOnlyList<RecognizedSegment>> WindowsAsync(bool condition) =>
            (await transcriber.TranscribeAsync(audio, new TranscriptionOptions
            {
                Settings = TranscriptionSettings.Unguarded with { ConditionOnPreviousText = condition },
                Language = "en",
                MaxNewTokens = 8,
            })).Segments;

        var plain = await WindowsAsync(false);
        var conditioned = await WindowsAsync(true);

        Assert.Equal(2, plain.Count);
        Assert.Equal(plain[0].Tokens, conditioned[0].Tokens);
        Assert.NotEqual(plain[1].Tokens, conditioned[1].Tokens);
    }

    [Theory]
    [InlineData(new[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 4, null)]
    [InlineData(new[] { 9, 7, 7, 7, 7, 7, 7, 7, 7 }, 4, 2)]
    [InlineData(new[] { 9, 7, 7, 7, 7, 7, 7, 7 }, 4, null)]
    [InlineData(new[] { 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3 }, 4, 3)]
    [InlineData(new[] { 1, 2, 3, 1, 2, 3, 1, 2, 3 }, 4, null)]
    [InlineData(new[] { 5, 1, 2, 1, 2, 1, 2, 1, 2 }, 4, 3)]
    [InlineData(new[] { 5, 1, 2, 1, 2, 1, 2, 1, 2 }, 0, null)]
    public void The_repetition_detector_keeps_the_text_up_to_the_first_repeat(int[] tokens, int limit, int? keep)
    {
        // An n-gram repeated `limit` times in a row over at least 8 tokens is a loop; the first occurrence is kept.
        Assert.Equal(keep, RepetitionDetector.LoopEnd(tokens, limit));
    }

    private static async Task<(TranscriptionResult Result, WindowDecodedEvent Window)> TranscribeAsync(WhisperTranscriber transcriber, TranscriptionSettings settings)
    {
        var segments = new List<RecognizedSegment>();
        WindowDecodedEvent? window = null;
        await foreach (var e in transcriber.StreamAsync(s_tone, new TranscriptionOptions { Settings = settings, Language = "en", MaxNewTokens = Models.MaxNewTokens }))
        {
            switch (e)
            {
                case WindowDecodedEvent decoded:
                    window = decoded;
                    break;
                case RecognizedSegmentEvent recognized:
                    segments.Add(recognized.Segment);
                    break;
                case TranscriptionFailed failed:
                    Assert.Fail(failed.Error.Message);
                    break;
            }
        }

        return (new TranscriptionResult(segments, null, false), window ?? throw new Xunit.Sdk.XunitException("no window was reported"));
    }

    private static WhisperTranscriber Open(string folder)
    {
        var opened = WhisperTranscriber.Open(folder, InferenceSettings.Cpu(1));
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        return opened.Value;
    }

    /// <summary>Forged tiny Whisper models with logit biases, written once per class and removed afterwards.</summary>
    public sealed class Models : IDisposable
    {
        /// <summary>Tokens decoded per window at most.</summary>
        public const int MaxNewTokens = 24;

        /// <summary>An ordinary text token of the forged vocabulary (not a special or timestamp token).</summary>
        public const int LoopToken = 262;

        private static readonly string s_root = Path.Combine(Path.GetTempPath(), "whisper-guards-" + Guid.NewGuid().ToString("N"));

        /// <summary>The forged models' tokenizer (the same for every bias).</summary>
        public static WhisperTokenizer Tokenizer => WhisperTokenizer.Load(Path.Combine(Folder("plain", null), "tokenizer.json")).Value!;

        public static string Folder(string name, IReadOnlyDictionary<int, float>? bias)
        {
            var folder = Path.Combine(s_root, name);
            lock (s_root)
            {
                if (!Directory.Exists(folder))
                {
                    WhisperForge.Write(WhisperPreset.Tiny, ForgedWhisperModel.Seed, folder, logitBias: bias);
                }
            }

            return folder;
        }

        public void Dispose()
        {
            if (Directory.Exists(s_root))
            {
                Directory.Delete(s_root, recursive: true);
            }
        }
    }
}
