using System.Globalization;
using Appliance.ModelForge.Llm;
using Onnx;

namespace Appliance.Benchmarks.Llm;

/// <summary>
/// The bytes one decode step must read from memory, counted from the forged graph's stored tensors: every
/// <c>MatMulNBits</c> weight (packed 4-bit codes and their scales, LM head included), every float norm weight and
/// bias, one row of the embedding and of each rotary cache, and the KV cache at the mean context of the measured
/// decode. The GGUF figure counts the same matrices as Q4_0 (18 bytes per 32 weights), a Q4_0 embedding row and an
/// fp16 KV cache, as llama.cpp stores them. Activations and logits are left out (they stay in cache or are small).
/// </summary>
/// <param name="MatMulWeightBytes">Packed 4-bit codes of every <c>MatMulNBits</c>.</param>
/// <param name="MatMulScaleBytes">Their float block scales.</param>
/// <param name="OtherWeightBytes">Norm weights, biases, the embedding row and rotary rows read per token.</param>
/// <param name="KvBytesPerContextToken">KV cache bytes per token of context, as the ONNX graph stores it.</param>
/// <param name="MeanContextTokens">Mean context a measured decode step attends to.</param>
/// <param name="GgufBytesPerToken">The same count for the Q4_0 GGUF under llama.cpp.</param>
internal sealed record DecodeTraffic(
    long MatMulWeightBytes,
    long MatMulScaleBytes,
    long OtherWeightBytes,
    long KvBytesPerContextToken,
    double MeanContextTokens,
    double GgufBytesPerToken)
{
    private const string PastKeyInput = "past_key_values.0.key";

    public double KvBytes => KvBytesPerContextToken * MeanContextTokens;

    /// <summary>Bytes read per decoded token by the ONNX model (service and bare loop).</summary>
    public double OnnxBytesPerToken => MatMulWeightBytes + MatMulScaleBytes + OtherWeightBytes + KvBytes;

    /// <summary>Counts the model in <paramref name="settings"/>' folder at its prompt and decode lengths.</summary>
    public static DecodeTraffic Count(LlmBenchSettings settings)
    {
        var preset = settings.Preset;
        ModelProto model;
        using (var stream = File.OpenRead(Path.Combine(settings.ModelDirectory, LlmForge.ModelFileName)))
        {
            model = ModelProto.Parser.ParseFrom(stream);
        }

        long packed = 0, scales = 0, other = 0;
        foreach (var tensor in model.Graph.Initializer)
        {
            var bytes = StoredBytes(tensor);
            if (tensor.Name.EndsWith(".weight_Q4", StringComparison.Ordinal))
            {
                packed += bytes;
            }
            else if (tensor.Name.EndsWith(".weight_scales", StringComparison.Ordinal))
            {
                scales += bytes;
            }
            else if (tensor.Name.Contains("embed_tokens", StringComparison.Ordinal) || tensor.Name is "cos_cache" or "sin_cache")
            {
                other += bytes / tensor.Dims[0]; // one row: the token's embedding, the position's rotary angles
            }
            else
            {
                other += bytes;
            }
        }

        var kvElement = model.Graph.Input.Single(i => i.Name == PastKeyInput).Type.TensorType.ElemType switch
        {
            (int)TensorProto.Types.DataType.Float => 4,
            (int)TensorProto.Types.DataType.Float16 or (int)TensorProto.Types.DataType.Bfloat16 => 2,
            var type => throw new InvalidDataException($"{PastKeyInput} has element type {type}, which the count does not know"),
        };
        var kvElementsPerToken = 2L * preset.NumHiddenLayers * preset.NumKeyValueHeads * preset.HeadSize;

        // Decode step k (k = 1 … N-1) attends to prompt + k tokens.
        var meanContext = settings.PromptTokens + (settings.DecodeTokens / 2.0);
        var embedding = model.Graph.Initializer.Single(t => t.Name.Contains("embed_tokens", StringComparison.Ordinal));
        var floatEmbeddingRow = StoredBytes(embedding) / embedding.Dims[0];
        var gguf = (packed * 18.0 / 16) + (other - floatEmbeddingRow) + (preset.HiddenSize * 18.0 / 32) + (kvElementsPerToken * 2 * meanContext);
        return new DecodeTraffic(packed, scales, other, kvElementsPerToken * kvElement, meanContext, gguf);
    }

    private static long StoredBytes(TensorProto tensor) =>
        tensor.ExternalData.FirstOrDefault(e => e.Key == "length") is { } length
            ? long.Parse(length.Value, CultureInfo.InvariantCulture)
            : tensor.RawData.Length > 0 ? tensor.RawData.Length : tensor.CalculateSize();
}
