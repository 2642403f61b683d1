namespace Appliance.ModelForge.Llm;

/// <summary>The random weights of one Qwen2 decoder layer, generated once and written to every format.</summary>
internal sealed record DecoderLayerWeights(
    float[] InputNorm,
    QuantizedMatrix Query,
    QuantizedMatrix Key,
    QuantizedMatrix Value,
    float[] QueryBias,
    float[] KeyBias,
    float[] ValueBias,
    QuantizedMatrix Output,
    float[] PostAttentionNorm,
    QuantizedMatrix Gate,
    QuantizedMatrix Up,
    QuantizedMatrix Down)
{
    /// <summary>Linear weights spread like a trained model's (normal * 0.02).</summary>
    public const double LinearStandardDeviation = 0.02;

    public static DecoderLayerWeights Generate(LlmPreset preset, long seed, int layer)
    {
        var prefix = $"model.layers.{layer}.";
        var h = preset.HiddenSize;
        var kv = preset.NumKeyValueHeads * preset.HeadSize;
        return new DecoderLayerWeights(
            InputNorm: Norm(seed, prefix + "input_layernorm", h),
            Query: Linear(seed, prefix + "self_attn.q_proj", preset.NumAttentionHeads * preset.HeadSize, h),
            Key: Linear(seed, prefix + "self_attn.k_proj", kv, h),
            Value: Linear(seed, prefix + "self_attn.v_proj", kv, h),
            QueryBias: Vector(seed, prefix + "self_attn.q_proj.bias", preset.NumAttentionHeads * preset.HeadSize, 0, LinearStandardDeviation),
            KeyBias: Vector(seed, prefix + "self_attn.k_proj.bias", kv, 0, LinearStandardDeviation),
            ValueBias: Vector(seed, prefix + "self_attn.v_proj.bias", kv, 0, LinearStandardDeviation),
            Output: Linear(seed, prefix + "self_attn.o_proj", h, preset.NumAttentionHeads * preset.HeadSize),
            PostAttentionNorm: Norm(seed, prefix + "post_attention_layernorm", h),
            Gate: Linear(seed, prefix + "mlp.gate_proj", preset.IntermediateSize, h),
            Up: Linear(seed, prefix + "mlp.up_proj", preset.IntermediateSize, h),
            Down: Linear(seed, prefix + "mlp.down_proj", h, preset.IntermediateSize));
    }

    /// <summary>RMSNorm weights: one, with a little noise.</summary>
    public static float[] Norm(long seed, string name, int size) => Vector(seed, name, size, 1.0, 0.02);

    public static QuantizedMatrix Linear(long seed, string name, int rows, int columns, double standardDeviation = LinearStandardDeviation) =>
        QuantizedMatrix.Generate(rows, columns, standardDeviation, DeterministicRandom.ForStream(seed, name));

    public static float[] Vector(long seed, string name, int size, double mean, double standardDeviation)
    {
        var random = DeterministicRandom.ForStream(seed, name);
        var values = new float[size];
        for (var i = 0; i < size; i++)
        {
            values[i] = (float)(mean + (standardDeviation * random.NextNormal()));
        }

        return values;
    }
}
