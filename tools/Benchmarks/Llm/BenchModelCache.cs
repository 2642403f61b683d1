using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.ModelForge.Llm;

namespace Appliance.Benchmarks.Llm;

/// <summary>
/// Keeps forged benchmark models in the cache folder: forges a preset and seed (with its GGUF, again with an int4
/// embedding, and again with that embedding and a pruned LM head) when the folder lacks it, and fixes the generation
/// length every engine must reach.
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
        EnsureForged(settings.Preset, settings.Seed, settings.Int4EmbeddingModelDirectory, LlmEmbeddingFormat.Int4, (settings.AccuracyLevel, settings.BlockSize), progress);
        SetMinLength(settings.Int4EmbeddingModelDirectory, settings.TotalTokens);
    }

    public static void Prepare(LlmBenchSettings settings, Action<string> progress)
    {
        PrepareFloat(settings, progress);
        PrepareInt4Embedding(settings, progress);
        EnsureForged(settings.Preset, settings.Seed, settings.PrunedHeadModelDirectory, LlmEmbeddingFormat.Int4, (settings.AccuracyLevel, settings.BlockSize), progress, pruneLmHead: true);
        SetMinLength(settings.PrunedHeadModelDirectory, settings.TotalTokens);
    }

    /// <summary>Only the float-embedding folder of <paramref name="settings"/> and its GGUF, forged when missing.</summary>
    public static void PrepareFloat(LlmBenchSettings settings, Action<string> progress)
    {
        EnsureForged(settings.Preset, settings.Seed, settings.ModelDirectory, LlmEmbeddingFormat.Dequantized, (settings.AccuracyLevel, settings.BlockSize), progress);
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
    /// <param name="vocabularyFrom">A tokenizer.json to forge the vocabulary from (see <see cref="LlmForgeOptions.VocabularyFrom"/>), or null.</param>
    /// <param name="pruneLmHead">Forge the LM head for the last position only (see <see cref="LlmForgeOptions.PruneLmHead"/>).</param>
    public static string PrepareAsForged(LlmPreset preset, long seed, string cacheDirectory, Action<string> progress, string? vocabularyFrom = null, bool pruneLmHead = false)
    {
        var directory = LlmBenchSettings.ModelDirectoryOf(cacheDirectory, preset, seed) + (vocabularyFrom is null ? "" : "-real-vocabulary") + (pruneLmHead ? "-pruned-head" : "");
        EnsureForged(preset, seed, directory, LlmEmbeddingFormat.Dequantized, (LlmForgeOptions.DefaultMatMulAccuracyLevel, LlmForgeOptions.DefaultMatMulBlockSize), progress, vocabularyFrom, pruneLmHead);
        SetMinLength(directory, 0);
        return directory;
    }

    // The float-embedding folder carries the GGUF for llama.cpp; the int4 one is only for the ONNX engines.
    private static void EnsureForged(LlmPreset preset, long seed, string directory, LlmEmbeddingFormat embedding, (int AccuracyLevel, int BlockSize) matMul, Action<string> progress, string? vocabularyFrom = null, bool pruneLmHead = false)
    {
        var withGguf = embedding == LlmEmbeddingFormat.Dequantized;
        var marker = Path.Combine(directory, MarkerFileName);
        var vocabulary = vocabularyFrom is null ? "learned" : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(vocabularyFrom)));
        var expected = string.Create(CultureInfo.InvariantCulture, $$"""{"forge":{{ForgeVersion}},"preset":"{{preset.Name}}","seed":{{seed}},"embedding":"{{embedding}}","accuracyLevel":{{matMul.AccuracyLevel}},"blockSize":{{matMul.BlockSize}},"vocabulary":"{{vocabulary}}","pruneLmHead":{{(pruneLmHead ? "true" : "false")}}}""");
        if (File.Exists(marker) && File.ReadAllText(marker) == expected && (!withGguf || File.Exists(Path.Combine(directory, LlmForge.GgufFileName))))
        {
            progress($"Using the forged {preset.Name} (seed {seed}, {embedding} embedding{(pruneLmHead ? ", pruned LM head" : "")}) in {directory}");
        }
        else
        {
            progress($"Forging {preset.Name} (seed {seed}, {embedding} embedding{(pruneLmHead ? ", pruned LM head" : "")}) into {directory}");
            var forged = LlmForge.Write(preset, seed, directory, new LlmForgeOptions
            {
                WriteGguf = withGguf,
                Embedding = embedding,
                MatMulAccuracyLevel = matMul.AccuracyLevel,
                MatMulBlockSize = matMul.BlockSize,
                PruneLmHead = pruneLmHead,
                VocabularyFrom = vocabularyFrom,
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
