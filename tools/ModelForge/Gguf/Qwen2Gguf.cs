using Appliance.ModelForge.Llm;

namespace Appliance.ModelForge.Gguf;

/// <summary>
/// The llama.cpp <c>qwen2</c> architecture in GGUF: metadata keys, tokenizer arrays and tensor names/shapes.
/// Matrices are Q4_0, norms and biases F32; tensors are declared in the order the forge generates them.
/// </summary>
internal static class Qwen2Gguf
{
    private const uint FileTypeMostlyQ4_0 = 2;

    public static IReadOnlyList<GgufTensorInfo> Tensors(LlmPreset preset)
    {
        long h = preset.HiddenSize;
        long q = preset.NumAttentionHeads * preset.HeadSize;
        long kv = preset.NumKeyValueHeads * preset.HeadSize;
        long ff = preset.IntermediateSize;
        var tensors = new List<GgufTensorInfo> { new("token_embd.weight", [h, preset.VocabSize], GgmlType.Q4_0) };
        for (var i = 0; i < preset.NumHiddenLayers; i++)
        {
            var blk = $"blk.{i}.";
            tensors.Add(new(blk + "attn_norm.weight", [h], GgmlType.F32));
            tensors.Add(new(blk + "attn_q.weight", [h, q], GgmlType.Q4_0));
            tensors.Add(new(blk + "attn_k.weight", [h, kv], GgmlType.Q4_0));
            tensors.Add(new(blk + "attn_v.weight", [h, kv], GgmlType.Q4_0));
            tensors.Add(new(blk + "attn_q.bias", [q], GgmlType.F32));
            tensors.Add(new(blk + "attn_k.bias", [kv], GgmlType.F32));
            tensors.Add(new(blk + "attn_v.bias", [kv], GgmlType.F32));
            tensors.Add(new(blk + "attn_output.weight", [q, h], GgmlType.Q4_0));
            tensors.Add(new(blk + "ffn_norm.weight", [h], GgmlType.F32));
            tensors.Add(new(blk + "ffn_gate.weight", [h, ff], GgmlType.Q4_0));
            tensors.Add(new(blk + "ffn_up.weight", [h, ff], GgmlType.Q4_0));
            tensors.Add(new(blk + "ffn_down.weight", [ff, h], GgmlType.Q4_0));
        }

        tensors.Add(new("output_norm.weight", [h], GgmlType.F32));
        if (!preset.TieWordEmbeddings)
        {
            tensors.Add(new("output.weight", [h, preset.VocabSize], GgmlType.Q4_0));
        }

        return tensors;
    }

    public static IReadOnlyList<KeyValuePair<string, object>> Metadata(LlmPreset preset, R1Tokenizer tokenizer, long seed)
    {
        var tokenTypes = tokenizer.Tokens.Select(t => t.Kind switch
        {
            ForgedTokenKind.Normal => 1,
            ForgedTokenKind.Control => 3,
            ForgedTokenKind.UserDefined => 4,
            _ => 5, // unused padding
        }).ToArray();
        return
        [
            new("general.architecture", "qwen2"),
            new("general.name", $"forged-{preset.Name}-seed{seed}"),
            new("general.file_type", FileTypeMostlyQ4_0),
            new("general.alignment", GgufWriter.Alignment),
            new("qwen2.context_length", (uint)preset.ContextLength),
            new("qwen2.embedding_length", (uint)preset.HiddenSize),
            new("qwen2.block_count", (uint)preset.NumHiddenLayers),
            new("qwen2.feed_forward_length", (uint)preset.IntermediateSize),
            new("qwen2.attention.head_count", (uint)preset.NumAttentionHeads),
            new("qwen2.attention.head_count_kv", (uint)preset.NumKeyValueHeads),
            new("qwen2.rope.freq_base", (float)preset.RopeTheta),
            new("qwen2.attention.layer_norm_rms_epsilon", (float)preset.RmsNormEpsilon),
            new("tokenizer.ggml.model", "gpt2"),
            new("tokenizer.ggml.pre", "qwen2"),
            new("tokenizer.ggml.tokens", tokenizer.Tokens.Select(t => t.Content).ToArray()),
            new("tokenizer.ggml.token_type", tokenTypes),
            new("tokenizer.ggml.merges", tokenizer.Merges.Select(m => m.Left + " " + m.Right).ToArray()),
            new("tokenizer.ggml.bos_token_id", (uint)tokenizer.BosTokenId),
            new("tokenizer.ggml.eos_token_id", (uint)tokenizer.EosTokenId),
            new("tokenizer.ggml.padding_token_id", (uint)tokenizer.EosTokenId),
            new("tokenizer.ggml.add_bos_token", false),
            new("tokenizer.chat_template", R1Tokenizer.ChatTemplate),
        ];
    }
}
