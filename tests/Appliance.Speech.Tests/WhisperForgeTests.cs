using Appliance.Profiles;
using Appliance.Inference;
using Appliance.ModelForge.Whisper;
using Appliance.Speech.Whisper;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Speech.Tests;

/// <summary>The Whisper forge: same seed, same bytes; the layout and names of the Optimum export.</summary>
public sealed class WhisperForgeTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "whisper-forge-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void TheSameSeedForgesTheSameBytesAndAnotherSeedDifferentWeights()
    {
        var a = WhisperForge.Write(WhisperPreset.Tiny, 1, Path.Combine(_root, "a")).Directory;
        var b = WhisperForge.Write(WhisperPreset.Tiny, 1, Path.Combine(_root, "b")).Directory;
        var c = WhisperForge.Write(WhisperPreset.Tiny, 2, Path.Combine(_root, "c")).Directory;
        var files = Directory.EnumerateFiles(a, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a, f)).Order().ToList();
        Assert.Equal(
            ["config.json", "generation_config.json", "onnx/decoder_model_merged.onnx", "onnx/decoder_model_merged.onnx_data", "onnx/encoder_model.onnx", "onnx/encoder_model.onnx_data", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"],
            files);
        foreach (var file in files)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)));
        }

        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a, "onnx/decoder_model_merged.onnx_data")), File.ReadAllBytes(Path.Combine(c, "onnx/decoder_model_merged.onnx_data")));
    }

    [Fact]
    public void TheGraphsHaveTheInputsAndOutputsOfTheOptimumExport()
    {
        var folder = WhisperForge.Write(WhisperPreset.Tiny, 1, Path.Combine(_root, "m")).Directory;
        using var encoder = new InferenceSession(Path.Combine(folder, "onnx", WhisperForge.EncoderFileName));
        Assert.Equal(["input_features"], encoder.InputNames);
        Assert.Equal(["last_hidden_state"], encoder.OutputNames);
        Assert.Equal([-1, 80, -1], encoder.InputMetadata["input_features"].Dimensions);
        using var decoder = new InferenceSession(Path.Combine(folder, "onnx", WhisperForge.DecoderFileName));
        var layers = WhisperPreset.Tiny.DecoderLayers;
        string[] kinds = ["decoder.key", "decoder.value", "encoder.key", "encoder.value"];
        Assert.Equal(
            ["input_ids", "encoder_hidden_states", .. Enumerable.Range(0, layers).SelectMany(i => kinds.Select(k => $"past_key_values.{i}.{k}")), "use_cache_branch"],
            decoder.InputNames);
        Assert.Equal(["logits", .. Enumerable.Range(0, layers).SelectMany(i => kinds.Select(k => $"present.{i}.{k}"))], decoder.OutputNames);
        Assert.Equal([-1, -1, 51865], decoder.OutputMetadata["logits"].Dimensions);
    }

    [Fact]
    public async Task AnEndOfTextBiasShortensWhatRandomWeightsWrite()
    {
        var plain = WhisperForge.Write(WhisperPreset.Tiny, 1, Path.Combine(_root, "plain")).Directory;
        var biased = WhisperForge.Write(WhisperPreset.Tiny, 1, Path.Combine(_root, "biased"), endOfTextBias: 60).Directory;
        var audio = new float[5 * 16_000];
        for (var i = 0; i < audio.Length; i++)
        {
            audio[i] = 0.1f * MathF.Sin(i * 0.05f);
        }

        async Task<int> TextLength(string folder)
        {
            using var transcriber = WhisperTranscriber.Open(folder, InferenceSettings.Cpu(1)).Value!;
            var result = await transcriber.TranscribeAsync(audio, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", MaxNewTokens = 48 }, CancellationToken.None);
            return result.Segments.Sum(s => s.Text.Length);
        }

        // Unbiased, the random weights run to the 48-token limit; with the end-of-text logit far ahead they stop after the
        // one token Whisper must write first (end of text is suppressed at the first step).
        var unbiased = await TextLength(plain);
        var stopped = await TextLength(biased);
        Assert.True(unbiased > 100, $"{unbiased} characters without the bias");
        Assert.InRange(stopped, 0, 16);
    }

    /// <summary>
    /// The q4 decoder: every linear layer and the logits head are 4-bit <c>MatMulNBits</c> (no float linear weight is
    /// left), quantized from the float model of the same seed, and the pipeline decodes with it, choosing much as the
    /// float model does (quantization moves some choices; a model of other weights would share almost none).
    /// </summary>
    [Fact]
    public async Task A_q4_decoder_holds_only_4_bit_linear_layers_and_decodes_much_as_the_float_model()
    {
        var plain = WhisperForge.Write(WhisperPreset.Tiny, 7, Path.Combine(_root, "float")).Directory;
        var quantized = WhisperForge.Write(WhisperPreset.Tiny, 7, Path.Combine(_root, "q4"), quantization: WhisperQuantization.DecoderQ4).Directory;
        var graph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(quantized, "onnx", WhisperForge.DecoderFileName))).Graph;
        var nodes = graph.Node.Concat(graph.Node.SelectMany(n => n.Attribute).Where(a => a.G is not null).SelectMany(a => a.G.Node)).ToList();
        var perLayer = 4 + 4 + 2; // self q, k, v, out; cross q, k, v, out; fc1, fc2
        var audio = Tone(10);

        var floatTokens = await GreedyTokens(plain, audio);
        var quantizedTokens = await GreedyTokens(quantized, audio);

        Assert.Equal((WhisperPreset.Tiny.DecoderLayers * perLayer) + 1, nodes.Count(n => n.OpType == "MatMulNBits" && n.Domain == "com.microsoft"));
        Assert.DoesNotContain(graph.Initializer, t => t.Name.EndsWith("proj.weight", StringComparison.Ordinal) || t.Name.EndsWith("fc1.weight", StringComparison.Ordinal) || t.Name.EndsWith("fc2.weight", StringComparison.Ordinal));
        Assert.DoesNotContain(nodes, n => n.OpType == "MatMul" && n.Name.StartsWith("/proj_out", StringComparison.Ordinal));
        Assert.Equal(30, quantizedTokens.Count);
        var agreeing = floatTokens.Zip(quantizedTokens).Count(pair => pair.First == pair.Second);
        Assert.True(agreeing >= 10, $"{agreeing} of 30 tokens agree with the float model");
    }

    /// <summary>
    /// The int8 export: every linear layer of the encoder and the decoder and the logits head multiply int8 weights by
    /// dynamically quantized activations (<c>MatMulInteger</c>; no float linear weight is left), quantized from the
    /// float model of the same seed, and the pipeline decodes with it, choosing much as the float model does, and
    /// exactly alike in the split and the merged layout.
    /// </summary>
    [Fact]
    public async Task An_int8_export_holds_only_int8_linear_layers_and_decodes_much_as_the_float_model()
    {
        var plain = WhisperForge.Write(WhisperPreset.Tiny, 7, Path.Combine(_root, "float")).Directory;
        var quantized = WhisperForge.Write(WhisperPreset.Tiny, 7, Path.Combine(_root, "int8"), quantization: WhisperQuantization.DynamicInt8, splitDecoder: true).Directory;
        var merged = WhisperForge.Write(WhisperPreset.Tiny, 7, Path.Combine(_root, "int8-merged"), quantization: WhisperQuantization.DynamicInt8).Directory;
        var audio = Tone(10);

        var floatTokens = await GreedyTokens(plain, audio);
        var quantizedTokens = await GreedyTokens(quantized, audio, "split");
        var mergedTokens = await GreedyTokens(merged, audio, "merged");

        var encoder = Graph(WhisperForge.EncoderFileName);
        Assert.Equal(WhisperPreset.Tiny.EncoderLayers * 6, encoder.Node.Count(n => n.OpType == "MatMulInteger")); // q, k, v, out, fc1, fc2
        Assert.Equal(encoder.Node.Count(n => n.OpType == "MatMulInteger"), encoder.Node.Count(n => n.OpType == "DynamicQuantizeLinear"));
        foreach (var decoderFile in new[] { WhisperForge.FirstDecoderFileName, WhisperForge.WithPastDecoderFileName })
        {
            var decoder = Graph(decoderFile);
            var perLayer = decoderFile == WhisperForge.FirstDecoderFileName ? 4 + 4 + 2 : 4 + 2 + 2; // with past, the cross keys and values are inputs
            Assert.Equal((WhisperPreset.Tiny.DecoderLayers * perLayer) + 1, decoder.Node.Count(n => n.OpType == "MatMulInteger"));
            Assert.Contains(decoder.Node, n => n.OpType == "Mul" && n.Output.Single() == "logits");
        }

        foreach (var graph in new[] { encoder, Graph(WhisperForge.FirstDecoderFileName), Graph(WhisperForge.WithPastDecoderFileName) })
        {
            Assert.DoesNotContain(graph.Initializer, t => t.Name.EndsWith("proj.weight", StringComparison.Ordinal) || t.Name.EndsWith("fc1.weight", StringComparison.Ordinal) || t.Name.EndsWith("fc2.weight", StringComparison.Ordinal));
            Assert.All(graph.Initializer.Where(t => t.Name.EndsWith(".weight_quantized", StringComparison.Ordinal)), t => Assert.Equal((int)Onnx.TensorProto.Types.DataType.Int8, t.DataType));
        }

        Assert.Equal(30, quantizedTokens.Count);
        var agreeing = floatTokens.Zip(quantizedTokens).Count(pair => pair.First == pair.Second);
        Assert.True(agreeing >= 10, $"{agreeing} of 30 tokens agree with the float model");
        Assert.Equal(quantizedTokens, mergedTokens);

        Onnx.GraphProto Graph(string fileName) => Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(quantized, "onnx", fileName))).Graph;
    }

    /// <summary>
    /// The split decoder (<c>decoder_model.onnx</c> for the first step, <c>decoder_with_past_model.onnx</c> for the others,
    /// the layout the pipeline also loads) is the merged one's function without its <c>If</c>: the pipeline picks the same
    /// tokens from either, and the decoder with past takes the cross-attention cache as inputs and returns none.
    /// </summary>
    [Fact]
    public async Task The_split_decoder_decodes_exactly_as_the_merged_one()
    {
        var merged = WhisperForge.Write(WhisperPreset.Tiny, 7, Path.Combine(_root, "merged")).Directory;
        var split = WhisperForge.Write(WhisperPreset.Tiny, 7, Path.Combine(_root, "split"), splitDecoder: true).Directory;
        using var withPast = new InferenceSession(Path.Combine(split, "onnx", WhisperForge.WithPastDecoderFileName));
        var audio = Tone(10);

        var mergedTokens = await GreedyTokens(merged, audio, "merged");
        var splitTokens = await GreedyTokens(split, audio, "split");

        Assert.False(File.Exists(Path.Combine(split, "onnx", WhisperForge.DecoderFileName)));
        Assert.Contains("past_key_values.0.encoder.key", withPast.InputNames);
        Assert.DoesNotContain(withPast.OutputNames, name => name.Contains(".encoder.", StringComparison.Ordinal));
        Assert.Equal(30, mergedTokens.Count);
        Assert.Equal(mergedTokens, splitTokens);
    }

    /// <summary>A quiet 127 Hz tone at 16 kHz, the same input for every model a test compares.</summary>
    private static float[] Tone(int seconds)
    {
        var audio = new float[seconds * 16_000];
        for (var i = 0; i < audio.Length; i++)
        {
            audio[i] = 0.1f * MathF.Sin(i * 0.05f);
        }

        return audio;
    }

    /// <summary>The pipeline's greedy tokens for <paramref name="audio"/> (unguarded, at most 30), from a model loaded in the layout expected, when one is named.</summary>
    private static async Task<List<int>> GreedyTokens(string folder, float[] audio, string? layout = null)
    {
        using var transcriber = WhisperTranscriber.Open(folder, InferenceSettings.Cpu(1)).Value!;
        if (layout is not null)
        {
            Assert.Equal(layout, transcriber.Info.DecoderLayout);
        }

        var result = await transcriber.TranscribeAsync(audio, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = "en", MaxNewTokens = 30 }, CancellationToken.None);
        Assert.Null(result.Error);
        return [.. result.Segments.SelectMany(s => s.Tokens)];
    }
}
