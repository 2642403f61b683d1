using System.Globalization;
using Appliance.ModelForge.Llm;

namespace Appliance.Benchmarks.Llm;

/// <summary>
/// What one <c>llm</c> benchmark runs: the forged model, the prompt and generation lengths, threads and repeats.
/// The parent passes the model and lengths to each engine child on its command line and drives the rounds itself.
/// </summary>
internal sealed record LlmBenchSettings
{
    public required LlmPreset Preset { get; init; }

    public long Seed { get; init; } = 42;

    /// <summary>Where forged models are kept, one folder per preset and seed.</summary>
    public required string CacheDirectory { get; init; }

    /// <summary>ONNX Runtime intra-op threads and llama.cpp <c>n_threads</c>.</summary>
    public int Threads { get; init; } = 2;

    public required int PromptTokens { get; init; }

    /// <summary>Tokens every engine generates, end-of-sequence suppressed.</summary>
    public required int DecodeTokens { get; init; }

    /// <summary>Unmeasured rounds: one generation by each engine.</summary>
    public int WarmupRounds { get; init; } = 1;

    /// <summary>Measured rounds: one generation by each engine, in turn, so that the machine's drift touches all alike.</summary>
    public int MeasuredRounds { get; init; } = 3;

    /// <summary>No further measured round starts once the measured rounds took this long (one always runs).</summary>
    public TimeSpan MeasuredTimeBound { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Size of the buffer streamed by the bandwidth measurement.</summary>
    public int BandwidthMebibytes { get; init; } = 1024;

    /// <summary><c>accuracy_level</c> of the forged models' <c>MatMulNBits</c> (4: int8 compute, 1: fp32 compute).</summary>
    public int AccuracyLevel { get; init; } = LlmForgeOptions.DefaultMatMulAccuracyLevel;

    /// <summary>
    /// Input features per scale of the forged ONNX models' int4 tensors: 32, the GGUF's own codes, or a larger block
    /// holding the same weights quantized again (<see cref="LlmForgeOptions.MatMulBlockSize"/>).
    /// </summary>
    public int BlockSize { get; init; } = LlmForgeOptions.DefaultMatMulBlockSize;

    /// <summary>The ONNX models' layout in words: "int4 `MatMulNBits` (block 32, fp32 scales, accuracy level 4)".</summary>
    public string OnnxLayout => string.Create(
        CultureInfo.InvariantCulture,
        $"int4 `MatMulNBits` (block {BlockSize}{(BlockSize == LlmForgeOptions.DefaultMatMulBlockSize ? "" : ": the GGUF's weights quantized again")}, fp32 scales, accuracy level {AccuracyLevel})");

    public string ModelDirectory =>
        ModelDirectoryOf(CacheDirectory, Preset, Seed)
        + (AccuracyLevel == LlmForgeOptions.DefaultMatMulAccuracyLevel ? "" : string.Create(CultureInfo.InvariantCulture, $"-accuracy{AccuracyLevel}"))
        + (BlockSize == LlmForgeOptions.DefaultMatMulBlockSize ? "" : string.Create(CultureInfo.InvariantCulture, $"-block{BlockSize}"));

    /// <summary>The same weights with the embedding table as int4 codes (<see cref="LlmEmbeddingFormat.Int4"/>), without a GGUF.</summary>
    public string Int4EmbeddingModelDirectory => ModelDirectory + "-int4-embedding";

    /// <summary>The int4-embedding weights with the LM head pruned to the last position (<see cref="LlmForgeOptions.PruneLmHead"/>), without a GGUF.</summary>
    public string PrunedHeadModelDirectory => Int4EmbeddingModelDirectory + "-pruned-head";

    /// <summary>The pruned-head weights with an fp16 KV cache (<see cref="LlmKvCachePrecision.Fp16"/>), without a GGUF.</summary>
    public string Fp16KvCacheModelDirectory => PrunedHeadModelDirectory + "-fp16-kv";

    /// <summary>The forge options of this benchmark's ONNX models with the given embedding: its accuracy level and block size.</summary>
    public LlmForgeOptions Layout(LlmEmbeddingFormat embedding) =>
        new() { Embedding = embedding, MatMulAccuracyLevel = AccuracyLevel, MatMulBlockSize = BlockSize };

    public string GgufPath => Path.Combine(ModelDirectory, LlmForge.GgufFileName);

    /// <summary>The sequence length every run reaches: prompt plus generated tokens.</summary>
    public int TotalTokens => PromptTokens + DecodeTokens;

    /// <summary>The cache's folder for one preset and seed.</summary>
    public static string ModelDirectoryOf(string cacheDirectory, LlmPreset preset, long seed) =>
        Path.Combine(cacheDirectory, string.Create(CultureInfo.InvariantCulture, $"{preset.Name}-seed{seed}"));

    /// <summary>Default prompt and generation lengths of a preset: 512 + 128, or what fits the tiny model's context.</summary>
    public static (int Prompt, int Decode) DefaultLengths(LlmPreset preset) =>
        preset.ContextLength >= 640 ? (512, 128) : (64, 16);

    /// <summary>
    /// The fixed prompt, the same for every engine: ordinary (non-special) token ids spread over the vocabulary.
    /// </summary>
    public int[] PromptIds() =>
        [.. Enumerable.Range(0, PromptTokens).Select(i => (int)(((i * 7919L) + 101) % Preset.SpecialTokenBaseId))];

    /// <summary>The arguments of the child that measures <paramref name="engine"/> with these settings.</summary>
    public IReadOnlyList<string> ChildArguments(LlmEngineKind engine) =>
    [
        "llm",
        "--preset", Preset.Name,
        "--seed", Invariant(Seed),
        "--models", CacheDirectory,
        "--threads", Invariant(Threads),
        "--prompt-tokens", Invariant(PromptTokens),
        "--decode-tokens", Invariant(DecodeTokens),
        "--accuracy-level", Invariant(AccuracyLevel),
        "--block-size", Invariant(BlockSize),
        "--engine", engine.CliName(),
        "--child",
    ];

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
