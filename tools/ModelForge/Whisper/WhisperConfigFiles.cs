using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.ModelForge.Whisper;

/// <summary>
/// <c>config.json</c>, <c>generation_config.json</c> and <c>preprocessor_config.json</c> with the fields the
/// Hugging Face Whisper files carry and transformers.js reads.
/// </summary>
internal static class WhisperConfigFiles
{
    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="directory">The model folder.</param>
    /// <param name="preset">The shapes.</param>
    /// <param name="graphFiles">The graph files written, each with one external-data file.</param>
    public static void Write(string directory, WhisperPreset preset, IEnumerable<string> graphFiles)
    {
        var externalData = new JsonObject();
        foreach (var file in graphFiles)
        {
            externalData[file] = 1;
        }

        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("WhisperForConditionalGeneration"),
            ["model_type"] = "whisper",
            ["activation_function"] = "gelu",
            ["d_model"] = preset.DModel,
            ["encoder_layers"] = preset.EncoderLayers,
            ["decoder_layers"] = preset.DecoderLayers,
            ["encoder_attention_heads"] = preset.AttentionHeads,
            ["decoder_attention_heads"] = preset.AttentionHeads,
            ["encoder_ffn_dim"] = preset.FfnDim,
            ["decoder_ffn_dim"] = preset.FfnDim,
            ["num_hidden_layers"] = preset.EncoderLayers,
            ["num_mel_bins"] = preset.NumMelBins,
            ["max_source_positions"] = preset.MaxSourcePositions,
            ["max_target_positions"] = preset.MaxTargetPositions,
            ["vocab_size"] = WhisperPreset.VocabSize,
            ["bos_token_id"] = WhisperVocabulary.EndOfText,
            ["eos_token_id"] = WhisperVocabulary.EndOfText,
            ["pad_token_id"] = WhisperVocabulary.EndOfText,
            ["decoder_start_token_id"] = WhisperVocabulary.StartOfTranscript,
            ["is_encoder_decoder"] = true,
            ["scale_embedding"] = false,
            ["use_cache"] = true,
            ["torch_dtype"] = "float32",
            ["transformers.js_config"] = new JsonObject { ["use_external_data_format"] = externalData },
        };
        Save(Path.Combine(directory, "config.json"), config);

        var languages = new JsonObject();
        for (var i = 0; i < WhisperVocabulary.Languages.Count; i++)
        {
            languages[$"<|{WhisperVocabulary.Languages[i]}|>"] = WhisperVocabulary.FirstLanguage + i;
        }

        var generation = new JsonObject
        {
            ["decoder_start_token_id"] = WhisperVocabulary.StartOfTranscript,
            ["bos_token_id"] = WhisperVocabulary.EndOfText,
            ["eos_token_id"] = WhisperVocabulary.EndOfText,
            ["pad_token_id"] = WhisperVocabulary.EndOfText,
            ["max_length"] = preset.MaxTargetPositions,
            ["is_multilingual"] = true,
            ["lang_to_id"] = languages,
            ["task_to_id"] = new JsonObject { ["transcribe"] = WhisperVocabulary.Transcribe, ["translate"] = WhisperVocabulary.Translate },
            ["no_timestamps_token_id"] = WhisperVocabulary.NoTimestamps,
            ["max_initial_timestamp_index"] = 50,
            ["begin_suppress_tokens"] = new JsonArray(220, WhisperVocabulary.EndOfText),
            // The control tokens a transcript never contains; the released models also list some text tokens.
            ["suppress_tokens"] = new JsonArray(
                WhisperVocabulary.StartOfTranscript,
                WhisperVocabulary.Translate,
                WhisperVocabulary.Transcribe,
                WhisperVocabulary.StartOfLm,
                WhisperVocabulary.StartOfPrevious,
                WhisperVocabulary.NoCaptions),
        };
        Save(Path.Combine(directory, "generation_config.json"), generation);

        var preprocessor = new JsonObject
        {
            ["feature_extractor_type"] = "WhisperFeatureExtractor",
            ["processor_class"] = "WhisperProcessor",
            ["feature_size"] = preset.NumMelBins,
            ["sampling_rate"] = 16000,
            ["hop_length"] = 160,
            ["n_fft"] = 400,
            ["chunk_length"] = 30,
            ["n_samples"] = 480000,
            ["nb_max_frames"] = 3000,
            ["padding_side"] = "right",
            ["padding_value"] = 0.0,
            ["return_attention_mask"] = false,
        };
        Save(Path.Combine(directory, "preprocessor_config.json"), preprocessor);
    }

    private static void Save(string path, JsonObject json) => File.WriteAllText(path, json.ToJsonString(s_options) + "\n");
}
