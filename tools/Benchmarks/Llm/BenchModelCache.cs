using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.ModelForge.Llm;

namespace Appliance.Benchmarks.Llm;

/// <summary>
/// Keeps forged benchmark models in the cache folder: forges a preset and seed (with its GGUF, again with an int4
/// embedding, again with that embedding and a pruned LM head, and again with those and an fp16 KV cache) when the
/// folder lacks it, and fixes the generation length every engine must reach.
/// </summary>
internal static class BenchModelCache
{
    // Written after the forge completes: a folder without it (an interrupted forge) is forged again.
    private const string MarkerFileName = "bench-forge.json";
    private const string GenAiConfigFileName = "genai_config.json";

    // Raised whenever the forge writes other bytes for the same options, so that cached folders are forged again.
    private const int ForgeVersion = 2;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Only the int4-embedding folder of <paramref name="settings"/>, forged when missing (no GGUF, no float twin).</summary>
    public static void PrepareInt4Embedding(LlmBenchSettings settings, Action<string> progress)
    {
        EnsureForged(settings.Preset, settings.Seed, settings.Int4EmbeddingModelDirectory, settings.Layout(LlmEmbeddingFormat.Int4), progress);
        SetMinLength(settings.Int4EmbeddingModelDirectory, settings.TotalTokens);
    }

    public static void Prepare(LlmBenchSettings settings, Action<string> progress)
    {
        PrepareFloat(settings, progress);
        PrepareInt4Embedding(settings, progress);
        var prunedHead = settings.Layout(LlmEmbeddingFormat.Int4) with { PruneLmHead = true };
        EnsureForged(settings.Preset, settings.Seed, settings.PrunedHeadModelDirectory, prunedHead, progress);
        SetMinLength(settings.PrunedHeadModelDirectory, settings.TotalTokens);
        EnsureForged(settings.Preset, settings.Seed, settings.Fp16KvCacheModelDirectory, prunedHead with { KvCache = LlmKvCachePrecision.Fp16 }, progress);
        SetMinLength(settings.Fp16KvCacheModelDirectory, settings.TotalTokens);
    }

    /// <summary>Only the float-embedding folder of <paramref name="settings"/> and its GGUF, forged when missing.</summary>
    public static void PrepareFloat(LlmBenchSettings settings, Action<string> progress)
    {
        EnsureForged(settings.Preset, settings.Seed, settings.ModelDirectory, settings.Layout(LlmEmbeddingFormat.Dequantized), progress);
        SetMinLength(settings.ModelDirectory, settings.TotalTokens);
    }

    /// <summary>
    /// The same cached model for a benchmark that runs it as the daemon does: forged when missing, and with the
    /// forge's own search settings (no minimum length, so end of sequence ends a generation as in the product).
    /// </summary>
    /// <returns>The model folder.</returns>
    /// <param name="preset">The shapes.</param>
    /// <param name="seed">The seed.</param>
    /// <param name="cacheDirectory">The cache folder.</param>
    /// <param name="progress">Receives a line per step.</param>
    /// <param name="layout">
    /// The forge options that set the folder apart from the preset's default: <see cref="LlmForgeOptions.VocabularyFrom"/>
    /// (a tokenizer.json to forge the vocabulary from), <see cref="LlmForgeOptions.PruneLmHead"/> and
    /// <see cref="LlmForgeOptions.KvCache"/>; null for the defaults. Each one the folder's name says.
    /// </param>
    public static string PrepareAsForged(LlmPreset preset, long seed, string cacheDirectory, Action<string> progress, LlmForgeOptions? layout = null)
    {
        layout = new LlmForgeOptions { VocabularyFrom = layout?.VocabularyFrom, PruneLmHead = layout?.PruneLmHead ?? false, KvCache = layout?.KvCache ?? LlmKvCachePrecision.Fp32 };
        var directory = LlmBenchSettings.ModelDirectoryOf(cacheDirectory, preset, seed)
            + (layout.VocabularyFrom is null ? "" : "-real-vocabulary")
            + (layout.PruneLmHead ? "-pruned-head" : "")
            + (layout.KvCache == LlmKvCachePrecision.Fp16 ? "-fp16-kv" : "");
        EnsureForged(preset, seed, directory, layout, progress);
        SetMinLength(directory, 0);
        return directory;
    }

    // The float-embedding folder carries the GGUF for llama.cpp; the int4 one is only for the ONNX engines.
    private static void EnsureForged(LlmPreset preset, long seed, string directory, LlmForgeOptions layout, Action<string> progress)
    {
        var withGguf = layout.Embedding == LlmEmbeddingFormat.Dequantized;
        var marker = Path.Combine(directory, MarkerFileName);
        var vocabulary = layout.VocabularyFrom is null ? "learned" : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(layout.VocabularyFrom)));
        var expected = string.Create(CultureInfo.InvariantCulture, $$"""{"forge":{{ForgeVersion}},"preset":"{{preset.Name}}","seed":{{seed}},"embedding":"{{layout.Embedding}}","accuracyLevel":{{layout.MatMulAccuracyLevel}},"blockSize":{{layout.MatMulBlockSize}},"vocabulary":"{{vocabulary}}","pruneLmHead":{{(layout.PruneLmHead ? "true" : "false")}},"kvCache":"{{layout.KvCache}}"}""");
        var described = $"{preset.Name} (seed {seed}, {layout.Embedding} embedding{(layout.PruneLmHead ? ", pruned LM head" : "")}, {layout.KvCache} KV cache)";
        if (File.Exists(marker) && File.ReadAllText(marker) == expected && (!withGguf || File.Exists(Path.Combine(directory, LlmForge.GgufFileName))))
        {
            progress($"Using the forged {described} in {directory}");
        }
        else
        {
            progress($"Forging {described} into {directory}");
            var forged = LlmForge.Write(preset, seed, directory, layout with
            {
                WriteGguf = withGguf,
                Progress = new SynchronousProgress(p => progress(string.Create(CultureInfo.InvariantCulture, $"  [{p.Completed}/{p.Total}] {p.Part}"))),
            });
            File.WriteAllText(marker, expected);
            progress(string.Create(CultureInfo.InvariantCulture, $"Forged {forged.TotalBytes / (1024.0 * 1024.0):F0} MiB in {forged.Elapsed.TotalSeconds:F1} s"));
        }
    }

    // GenAI takes no per-request minimum; its search.min_length masks end of sequence until the sequence is that
    // long, so the service and the bare loop generate every token asked for, as llama.cpp's arg-max loop does.
    private static void SetMinLength(string directory, int minLength)
    {
        var path = Path.Combine(directory, GenAiConfigFileName);
        var config = JsonNode.Parse(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} is empty");
        var search = config["search"] ?? throw new InvalidDataException($"{path} has no search section");
        search["min_length"] = minLength;
        File.WriteAllText(path, config.ToJsonString(Indented));
    }

    /// <summary>Reports on the calling thread, so progress lines come out in order.</summary>
    private sealed class SynchronousProgress(Action<LlmForgeProgress> report) : IProgress<LlmForgeProgress>
    {
        public void Report(LlmForgeProgress value) => report(value);
    }
}
