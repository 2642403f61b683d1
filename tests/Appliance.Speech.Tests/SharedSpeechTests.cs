using Appliance.Profiles;
using Appliance.Inference;
using Appliance.Audio;
using Appliance.ModelForge.Whisper;
using Appliance.Speech.Tests.Support;
using Appliance.Speech.Vad;
using Appliance.Speech.Whisper;
using Xunit.Abstractions;

namespace Appliance.Speech.Tests;

/// <summary>
/// Tests on the shared folder (real Whisper tokenizer, Silero VAD v5, real recordings); they fail when it is missing.
/// The forged model here carries the real tokenizer (copied at test time into a temporary folder, never into the repo).
/// </summary>
[Trait("Category", "Shared")]
public sealed class SharedSpeechTests(ITestOutputHelper output)
{
    private static WhisperTokenizer RealTokenizer()
    {
        var loaded = WhisperTokenizer.Load(TestPaths.Shared("models/whisper-tokenizer/tokenizer.json"));
        Assert.True(loaded.IsSuccess, loaded.Error?.Message);
        return loaded.Value;
    }

    [Fact]
    public void RealTokenizerHasTheSpecialLanguageAndTimestampTokens()
    {
        var tokenizer = RealTokenizer();
        Assert.Equal(51865, tokenizer.VocabularySize);
        Assert.Equal(50257, tokenizer.EndOfText);
        Assert.Equal(50258, tokenizer.StartOfTranscript);
        Assert.Equal(50358, tokenizer.Translate);
        Assert.Equal(50359, tokenizer.Transcribe);
        Assert.Equal(50363, tokenizer.NoTimestamps);
        Assert.Equal(50364, tokenizer.TimestampBegin);
        Assert.Equal(99, tokenizer.LanguageIds.Count);
        Assert.Equal(50259, tokenizer.LanguageIds["en"]);
        Assert.Equal(50260, tokenizer.LanguageIds["zh"]);
        Assert.Equal(50272, tokenizer.LanguageIds["ar"]);
        Assert.Equal(50300, tokenizer.LanguageIds["fa"]);
        Assert.Equal(30.0, tokenizer.TimestampSeconds(51864), 6);
        Assert.Equal(WhisperLanguages.Codes, tokenizer.LanguageIds.OrderBy(kv => kv.Value).Select(kv => kv.Key));
    }

    [Fact]
    public void RealTokenizerDecodesTextSpecialTokensAndTimestamps()
    {
        var tokenizer = RealTokenizer();
        int[] hello = [tokenizer.IdOf("ĠHello")!.Value, tokenizer.IdOf(",")!.Value, tokenizer.IdOf("Ġworld")!.Value, tokenizer.IdOf("!")!.Value];
        int[] sequence = [tokenizer.StartOfTranscript, tokenizer.LanguageIds["en"], tokenizer.Transcribe, tokenizer.TimestampBegin, .. hello, tokenizer.TimestampBegin + 75, tokenizer.EndOfText];
        Assert.Equal(" Hello, world!", tokenizer.Decode(sequence));
        Assert.Equal("<|startoftranscript|><|en|><|transcribe|><|0.00|> Hello, world!<|1.50|><|endoftext|>", tokenizer.Decode(sequence, skipSpecialTokens: false));
        Assert.Equal(1.5, tokenizer.TimestampSeconds(tokenizer.TimestampBegin + 75), 6);

        // Multi-byte characters span tokens: the bytes are joined before UTF-8 decoding.
        var persian = "سلام".Select(c => c.ToString()).SelectMany(Utf8Symbols).Select(s => tokenizer.IdOf(s)!.Value).ToList();
        Assert.Equal("سلام", tokenizer.Decode(persian));
        Assert.Equal("\uFFFD", tokenizer.Decode(persian.Take(1)));
    }

    [Fact]
    public async Task EveryRecordingGoesThroughDecodeVadAndWhisper()
    {
        using var forged = new TemporaryFolder();
        using var transcriber = OpenForgedWithRealTokenizer(forged.Path);
        var files = Directory.EnumerateFiles(TestPaths.Shared("audio")).Where(f => f.EndsWith(".wav", StringComparison.Ordinal) || f.EndsWith(".mp3", StringComparison.Ordinal)).Order().ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var audio = AudioFile.ReadMono16k(file);
            Assert.True(audio.Succeeded, audio.Message);
            var samples = audio.Audio!.Samples;
            var speech = SileroSegments(samples);

            var result = await transcriber.TranscribeAsync(samples, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", Speech = speech, MaxNewTokens = 8, Timestamps = true });
            Assert.Null(result.Error);
            var windows = result.Segments.Select(s => s.Window).Distinct().Count();
            output.WriteLine($"{Path.GetFileName(file)}: {samples.Length / 16000.0:F1} s, {speech.Count} speech segments, {windows} windows, {result.Segments.Count} transcript segments; first: '{(result.Segments.Count > 0 ? result.Segments[0].Text : string.Empty)}'");
            Assert.NotEmpty(speech);
            Assert.NotEmpty(result.Segments);
            Assert.All(result.Segments, s => Assert.True(s.Start >= TimeSpan.Zero && s.End <= TimeSpan.FromSeconds(samples.Length / 16000.0) + TimeSpan.FromMilliseconds(1)));
            if (samples.Length > 60 * 16000)
            {
                Assert.True(windows >= 4, $"the {samples.Length / 16000} s recording is decoded in windows of at most 30 s of speech");
            }
        }
    }

    /// <summary>
    /// Field case asr-30s-tail: 30.2 s of speech without a pause, one VAD segment. It used to be cut at exactly
    /// 30.000 s with the last 0.17 s decoded as a window of its own. Right value: no window under 1 s, and the cut at
    /// the quietest point near the window's end (its 100 ms energy well under the speech's median), not mid-word.
    /// </summary>
    [Fact]
    public async Task Speech_just_over_thirty_seconds_is_cut_at_a_quiet_point_and_leaves_no_fragment()
    {
        var audio = AudioFile.ReadMono16k(TestPaths.Shared("cases/asr-30s-tail/long_30s_plus200ms.wav"));
        Assert.True(audio.Succeeded, audio.Message);
        var samples = audio.Audio!.Samples;
        var speech = SileroSegments(samples);
        using var forged = new TemporaryFolder();
        using var transcriber = OpenForgedWithRealTokenizer(forged.Path);
        var result = await transcriber.TranscribeAsync(samples, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", Speech = speech, MaxNewTokens = 4 });

        Assert.Null(result.Error);
        var windows = result.Segments.Select(s => (s.Start, s.End)).ToList(); // without timestamps, one segment per window
        output.WriteLine($"speech {string.Join(", ", speech.Select(s => $"{s.Start / 16000.0:F2}-{s.End / 16000.0:F2} s"))}; windows {string.Join(", ", windows.Select(w => $"{w.Start.TotalSeconds:F2}-{w.End.TotalSeconds:F2} s"))}");
        Assert.Equal(2, windows.Count);
        Assert.All(windows, w => Assert.True(w.End - w.Start >= TimeSpan.FromSeconds(1), $"a window of {(w.End - w.Start).TotalSeconds:F2} s"));
        var cut = (int)(windows[0].End.TotalSeconds * 16000);
        Assert.InRange(cut / 16000.0, 25.0, 29.25);
        var energies = Enumerable.Range(0, (samples.Length - 1600) / 400).Select(i => Energy(samples, (i * 400) + 800)).Order().ToList();
        var median = energies[energies.Count / 2];
        Assert.True(Energy(samples, cut) < median / 4, $"the cut at {cut / 16000.0:F2} s has energy {Energy(samples, cut):G3} against the median {median:G3}");
    }

    /// <summary>The speech segments the shared Silero VAD v5 finds in 16 kHz audio.</summary>
    private static IReadOnlyList<SpeechSegment> SileroSegments(float[] samples)
    {
        var vad = SileroVoiceActivityDetector.Open(TestPaths.Shared("models/silero-vad/silero_vad.onnx"));
        Assert.True(vad.IsSuccess, vad.Error?.Message);
        using (vad.Value)
        {
            return VoiceActivity.Segments(vad.Value, samples);
        }
    }

    /// <summary>The forged tiny Whisper (seed 11) written into <paramref name="folder"/> with the real tokenizer, opened.</summary>
    private static WhisperTranscriber OpenForgedWithRealTokenizer(string folder)
    {
        WhisperForge.Write(WhisperPreset.Tiny, 11, folder, TestPaths.Shared("models/whisper-tokenizer"));
        var opened = WhisperTranscriber.Open(folder, InferenceSettings.Cpu(2));
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        return opened.Value;
    }

    /// <summary>The energy of the 100 ms of <paramref name="samples"/> centred on <paramref name="centre"/>.</summary>
    private static double Energy(float[] samples, int centre) =>
        System.Numerics.Tensors.TensorPrimitives.SumOfSquares(samples.AsSpan(centre - 800, 1600));

    /// <summary>The byte-level symbols of a string's UTF-8 bytes, one symbol per byte.</summary>
    private static IEnumerable<string> Utf8Symbols(string text)
    {
        var symbols = ByteSymbols();
        return System.Text.Encoding.UTF8.GetBytes(text).Select(b => symbols[b].ToString());
    }

    private static char[] ByteSymbols()
    {
        var symbols = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            symbols[b] = printable ? (char)b : (char)next++;
        }

        return symbols;
    }

    private sealed class TemporaryFolder : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "speech-shared-" + Guid.NewGuid().ToString("N"));

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
