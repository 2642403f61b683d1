using Appliance.ModelForge.Llm;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace Appliance.ModelForge.Tests;

/// <summary>A forged model folder's graph, read as protobuf or run once through ONNX Runtime.</summary>
internal static class ForgedGraph
{
    /// <summary>The graph of <c>model.onnx</c> (initializers' data stays in the external file).</summary>
    public static GraphProto Read(string folder)
    {
        using var stream = File.OpenRead(Path.Combine(folder, LlmForge.ModelFileName));
        return ModelProto.Parser.ParseFrom(stream).Graph;
    }

    /// <summary>
    /// The graph's logits for a prompt with an empty KV cache, through ONNX Runtime: [1, prompt, vocabulary] flattened,
    /// or [1, 1, vocabulary] for a pruned LM head. The empty cache takes the graph's KV type (float32 or float16).
    /// </summary>
    public static float[] Logits(string folder, LlmPreset preset, long[] prompt)
    {
        using var session = new InferenceSession(Path.Combine(folder, LlmForge.ModelFileName));
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(prompt, [1, prompt.Length])),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, prompt.Length).ToArray(), [1, prompt.Length])),
        };
        int[] emptyPast = [1, preset.NumKeyValueHeads, 0, preset.HeadSize];
        for (var layer = 0; layer < preset.NumHiddenLayers; layer++)
        {
            foreach (var part in new[] { "key", "value" })
            {
                var name = $"past_key_values.{layer}.{part}";
                inputs.Add(session.InputMetadata[name].ElementDataType == TensorElementType.Float16
                    ? NamedOnnxValue.CreateFromTensor(name, new DenseTensor<Float16>(emptyPast))
                    : NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(emptyPast)));
            }
        }

        using var results = session.Run(inputs, ["logits"]);
        return [.. results.Single().AsTensor<float>()];
    }
}
