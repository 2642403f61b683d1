using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.ModelForge.Llm;

/// <summary>
/// The JSON files beside the graph: <c>genai_config.json</c> as ONNX Runtime GenAI's model builder writes it for a
/// Qwen2 model, and the Hugging Face <c>config.json</c> / <c>generation_config.json</c> that transformers.js reads.
/// </summary>
internal static class ModelConfigFiles
{
    private static readonly JsonSerializerOptions s_options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    // DeepSeek's published generation defaults for the R1 distills.
    private const double Temperature = 0.6;
    private const double TopP = 0.95;

    public static void WriteGenAiConfig(string path, LlmPreset preset, R1Tokenizer tokenizer, string modelFileName)
    {
        var config = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["bos_token_id"] = tokenizer.BosTokenId,
                ["context_length"] = preset.ContextLength,
                ["decoder"] = new JsonObject
                {
                    ["session_options"] = new JsonObject
                    {
                        ["log_id"] = "onnxruntime-genai",
                        ["provider_options"] = new JsonArray(),
                    },
                    ["filename"] = modelFileName,
                    ["head_size"] = preset.HeadSize,
                    ["hidden_size"] = preset.HiddenSize,
                    ["inputs"] = new JsonObject
                    {
                        ["input_ids"] = "input_ids",
                        ["attention_mask"] = "attention_mask",
                        ["past_key_names"] = "past_key_values.%d.key",
                        ["past_value_names"] = "past_key_values.%d.value",
                    },
                    ["outputs"] = new JsonObject
                    {
                        ["logits"] = "logits",
                        ["present_key_names"] = "present.%d.key",
                        ["present_value_names"] = "present.%d.value",
                    },
                    ["num_attention_heads"] = preset.NumAttentionHeads,
                    ["num_hidden_layers"] = preset.NumHiddenLayers,
                    ["num_key_value_heads"] = preset.NumKeyValueHeads,
                },
                ["eos_token_id"] = tokenizer.EosTokenId,
                ["pad_token_id"] = tokenizer.EosTokenId,
                ["type"] = "qwen2",
                ["vocab_size"] = preset.VocabSize,
            },
            ["search"] = new JsonObject
            {
                ["diversity_penalty"] = 0.0,
                ["do_sample"] = true,
                ["early_stopping"] = true,
                ["length_penalty"] = 1.0,
                ["max_length"] = preset.ContextLength,
                ["min_length"] = 0,
                ["no_repeat_ngram_size"] = 0,
                ["num_beams"] = 1,
                ["num_return_sequences"] = 1,
                ["past_present_share_buffer"] = true,
                ["repetition_penalty"] = 1.0,
                ["temperature"] = Temperature,
                ["top_k"] = 50,
                ["top_p"] = TopP,
            },
        };
        Write(path, config);
    }

    public static void WriteHuggingFaceConfig(string path, LlmPreset preset, R1Tokenizer tokenizer)
    {
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("Qwen2ForCausalLM"),
            ["attention_dropout"] = 0.0,
            ["bos_token_id"] = tokenizer.BosTokenId,
            ["eos_token_id"] = tokenizer.EosTokenId,
            ["head_dim"] = preset.HeadSize,
            ["hidden_act"] = "silu",
            ["hidden_size"] = preset.HiddenSize,
            ["initializer_range"] = DecoderLayerWeights.LinearStandardDeviation,
            ["intermediate_size"] = preset.IntermediateSize,
            ["max_position_embeddings"] = preset.ContextLength,
            ["model_type"] = "qwen2",
            ["num_attention_heads"] = preset.NumAttentionHeads,
            ["num_hidden_layers"] = preset.NumHiddenLayers,
            ["num_key_value_heads"] = preset.NumKeyValueHeads,
            ["rms_norm_eps"] = preset.RmsNormEpsilon,
            ["rope_theta"] = preset.RopeTheta,
            ["sliding_window"] = null,
            ["tie_word_embeddings"] = preset.TieWordEmbeddings,
            ["torch_dtype"] = "float32",
            ["use_cache"] = true,
            ["use_sliding_window"] = false,
            ["vocab_size"] = preset.VocabSize,
        };
        Write(path, config);
    }

    public static void WriteGenerationConfig(string path, R1Tokenizer tokenizer)
    {
        var config = new JsonObject
        {
            ["bos_token_id"] = tokenizer.BosTokenId,
            ["do_sample"] = true,
            ["eos_token_id"] = tokenizer.EosTokenId,
            ["temperature"] = Temperature,
            ["top_p"] = TopP,
        };
        Write(path, config);
    }

    private static void Write(string path, JsonObject config) => File.WriteAllText(path, config.ToJsonString(s_options) + "\n");
}
