using Appliance.Inference;
using Appliance.ModelForge.Whisper;
using Appliance.Profiles;
using Appliance.Speech.Whisper;
using Whisper.net;
using Xunit.Abstractions;

namespace Appliance.Speech.Tests;

/// <summary>
/// The whisper.cpp twin of a forged Whisper holds the same weights: whisper.cpp (through Whisper.net) loads it and
/// picks, token for token, nearly what this project's pipeline picks from the ONNX graphs on the same audio.
/// </summary>
public sealed class WhisperGgmlTwinTests(ITestOutputHelper output) : IDisposable
{
    private const int Tokens = 20;

    /// <summary>The tiny preset's shapes with feed-forward layers 4 × d_model wide, the only width whisper.cpp takes.</summary>
    private static readonly WhisperPreset TinyFourWide = WhisperPreset.Tiny with { Name = "tiny-ffn4", FfnDim = 4 * WhisperPreset.Tiny.DModel };

    private readonly string _root = Path.Combine(Path.GetTempPath(), "whisper-ggml-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task WhisperCppDecodesTheTwinAsThePipelineDecodesTheOnnxModel()
    {
        var folder = WhisperForge.Write(TinyFourWide, 7, Path.Combine(_root, "model")).Directory;
        var twin = Path.Combine(folder, WhisperGgml.FileName);
        WhisperGgml.Write(folder, twin);
        var audio = new float[10 * 16_000];
        var noise = new Random(3);
        for (var i = 0; i < audio.Length; i++)
        {
            audio[i] = (0.1f * MathF.Sin(i * 0.05f)) + (0.02f * (noise.NextSingle() - 0.5f));
        }

        var ours = await OursAsync(folder, audio);
        var theirs = await WhisperCppAsync(twin, audio);

        output.WriteLine($"pipeline    [{string.Join(", ", ours)}]");
        output.WriteLine($"whisper.cpp [{string.Join(", ", theirs)}]");
        Assert.Equal(Tokens, ours.Count);
        Assert.True(theirs.Count >= Tokens, $"whisper.cpp decoded {theirs.Count} tokens");
        // Two engines of their own (whisper.cpp: its own FFT, a GELU approximation, float16 matrices, and a special
        // token suppressed where the pipeline allows it) agree on most positions; different weights would agree on none.
        var agreeing = ours.Zip(theirs).Count(pair => pair.First == pair.Second);
        Assert.True(agreeing >= Tokens * 3 / 4, $"{agreeing} of {Tokens} tokens agree");
    }

    /// <summary>A model the format cannot hold gets a reason, and no file (not even a partial one) is left behind.</summary>
    [Fact]
    public void A_model_forged_with_a_logit_bias_a_q4_decoder_or_narrow_feed_forward_layers_has_no_twin()
    {
        var biased = WhisperForge.Write(TinyFourWide, 7, Path.Combine(_root, "biased"), endOfTextBias: 5).Directory;
        var quantized = WhisperForge.Write(TinyFourWide, 7, Path.Combine(_root, "q4"), quantization: WhisperQuantization.DecoderQ4).Directory;
        var narrow = WhisperForge.Write(WhisperPreset.Tiny, 7, Path.Combine(_root, "narrow")).Directory;

        Assert.Contains("logit bias", Refusal(biased), StringComparison.Ordinal);
        Assert.Contains("quantized decoder", Refusal(quantized), StringComparison.Ordinal);
        Assert.Contains("4 × d_model", Refusal(narrow), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(_root, "*.bin*"));

        string Refusal(string folder) => Assert.Throws<InvalidDataException>(() => WhisperGgml.Write(folder, Path.Combine(_root, Path.GetFileName(folder) + ".bin"))).Message;
    }

    private static async Task<List<int>> OursAsync(string folder, float[] audio)
    {
        var opened = WhisperTranscriber.Open(folder, InferenceSettings.Cpu(1));
        using var transcriber = opened.Value ?? throw new InvalidOperationException(opened.Error?.Message);
        var result = await transcriber.TranscribeAsync(audio, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", MaxNewTokens = Tokens });
        Assert.Null(result.Error);
        return [.. result.Segments.SelectMany(s => s.Tokens)];
    }

    private static async Task<List<int>> WhisperCppAsync(string twin, float[] audio)
    {
        using var factory = WhisperFactory.FromPath(twin);
        await using var processor = factory.CreateBuilder()
            .WithLanguage("en")
            .WithThreads(1)
            .WithTemperature(0)
            .WithTemperatureInc(0)
            .WithMaxTokensPerSegment(Tokens)
            .WithSingleSegment()
            .WithoutSuppressBlank()
            .WithProbabilities()
            .Build();
        var tokens = new List<int>();
        await foreach (var segment in processor.ProcessAsync(audio))
        {
            tokens.AddRange(segment.Tokens?.Select(t => t.Id) ?? []);
        }

        return tokens;
    }
}
