using System.Text.Json;
using Appliance.ModelForge.Llm;
using Onnx;

namespace Appliance.ModelForge.Tests;

[Collection(ForgedTinyModelGroup.Name)]
public sealed class GraphStructureTests(ForgedTinyModel model)
{
    private readonly ModelProto _graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(model.Directory, LlmForge.ModelFileName)));

    [Fact]
    public void GraphUsesTheGenAiBuilderOps()
    {
        var ops = _graph.Graph.Node.Select(n => n.OpType).ToHashSet();
        Assert.Contains("MatMulNBits", ops);
        Assert.Contains("GroupQueryAttention", ops);
        Assert.Contains("SimplifiedLayerNormalization", ops);
        Assert.Contains("SkipSimplifiedLayerNormalization", ops);
        Assert.DoesNotContain("MatMul", ops);

        var preset = LlmPreset.Tiny;
        var matMuls = _graph.Graph.Node.Where(n => n.OpType == "MatMulNBits").ToList();
        Assert.Equal((5 * preset.NumHiddenLayers) + 1, matMuls.Count); // qkv, o, gate, up, down per layer + LM head
        Assert.All(matMuls, n =>
        {
            Assert.Equal("com.microsoft", n.Domain);
            Assert.Equal(4, Attribute(n, "bits").I);
            Assert.Equal(32, Attribute(n, "block_size").I);
            Assert.Equal(4, Attribute(n, "accuracy_level").I);
            var weight = _graph.Graph.Initializer.Single(t => t.Name == n.Input[1]);
            Assert.Equal((int)TensorProto.Types.DataType.Uint8, weight.DataType);
            Assert.Equal(new long[] { Attribute(n, "N").I, Attribute(n, "K").I / 32, 16 }, weight.Dims);
        });

        var gqa = _graph.Graph.Node.Where(n => n.OpType == "GroupQueryAttention").ToList();
        Assert.Equal(preset.NumHiddenLayers, gqa.Count);
        Assert.All(gqa, n =>
        {
            Assert.Equal(1, Attribute(n, "do_rotary").I);
            Assert.Equal(preset.NumAttentionHeads, Attribute(n, "num_heads").I);
            Assert.Equal(preset.NumKeyValueHeads, Attribute(n, "kv_num_heads").I);
            Assert.Equal(["cos_cache", "sin_cache"], n.Input.Skip(7).Take(2));
        });
    }

    [Fact]
    public void The_accuracy_level_asked_for_is_on_every_MatMulNBits_and_the_model_generates()
    {
        var folder = Path.Combine(Path.GetTempPath(), "modelforge-accuracy-" + Guid.NewGuid().ToString("N"));
        try
        {
            LlmForge.Write(LlmPreset.Tiny, 42, folder, new LlmForgeOptions { MatMulAccuracyLevel = 1 });
            var graph = ForgedGraph.Read(folder);
            Assert.All(graph.Node.Where(n => n.OpType == "MatMulNBits"), n => Assert.Equal(1, Attribute(n, "accuracy_level").I));
            Assert.Equal(8, GenAiGreedy.Generate(folder, "Hello, how are you?", 8).GeneratedIds.Length);
            Assert.Throws<ArgumentOutOfRangeException>(() => LlmForge.Write(LlmPreset.Tiny, 42, folder, new LlmForgeOptions { MatMulAccuracyLevel = 5 }));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Blocks of 64: every int4 tensor (the tied table the LM head and the gather share, every layer's matrices) has
    /// one float scale per 64 weights, the weights stay within half a new scale of the forged ones, and GenAI and
    /// transformers.js decode it alike.
    /// </summary>
    [Fact]
    public void A_larger_block_requantizes_every_int4_tensor_and_the_model_still_decodes_alike()
    {
        var folder = Path.Combine(Path.GetTempPath(), "modelforge-block-" + Guid.NewGuid().ToString("N"));
        try
        {
            var preset = LlmPreset.Tiny with { TieWordEmbeddings = true };
            LlmForge.Write(preset, 42, folder, new LlmForgeOptions { MatMulBlockSize = 64, Embedding = LlmEmbeddingFormat.Int4 });
            var graph = ForgedGraph.Read(folder);
            var shapes = graph.Initializer.ToDictionary(t => t.Name, t => t.Dims.ToArray());
            var matMuls = graph.Node.Where(n => n.OpType == "MatMulNBits").ToList();
            Assert.NotEmpty(matMuls);
            Assert.All(matMuls, n =>
            {
                var k = Attribute(n, "K").I;
                Assert.Equal(64, Attribute(n, "block_size").I);
                Assert.Equal([Attribute(n, "N").I, k / 64, 32], shapes[n.Input[1]]);
                Assert.Equal([Attribute(n, "N").I, k / 64], shapes[n.Input[2]]);
            });
            Assert.Equal(64, Attribute(graph.Node.Single(n => n.OpType == "GatherBlockQuantized"), "block_size").I);

            const string Prompt = "Hello, how are you?";
            var genAi = GenAiGreedy.Generate(folder, Prompt, 8);
            Assert.Equal(8, genAi.GeneratedIds.Length);
            Assert.Equal(genAi.GeneratedIds, ParityHarness.Ids(ParityHarness.Greedy(folder, Prompt, 8), "generated_ids"));
            Assert.Throws<ArgumentOutOfRangeException>(() => LlmForge.Write(preset, 42, folder, new LlmForgeOptions { MatMulBlockSize = 48 }));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    public void Reblocked_weights_are_within_half_a_new_scale_of_the_forged_ones(int blockSize)
    {
        var forged = QuantizedMatrix.Generate(8, 256, 0.5, DeterministicRandom.ForStream(42, "reblock"));
        var reblocked = forged.Reblocked(blockSize);
        var (before, after, scales) = (Floats(forged), Floats(reblocked), ScalesOf(reblocked));
        Assert.Equal((8, 256, blockSize, 256 / blockSize), (reblocked.Rows, reblocked.Columns, reblocked.BlockSize, reblocked.BlocksPerRow));
        Assert.NotEqual(before, after);
        for (var i = 0; i < before.Length; i++)
        {
            Assert.True(Math.Abs(before[i] - after[i]) <= (scales[i / blockSize] / 2) + 1e-6, $"weight {i}: {before[i]} became {after[i]}");
        }

        Assert.Same(forged, forged.Reblocked(QuantizedMatrix.DefaultBlockSize));

        static float[] Floats(QuantizedMatrix m)
        {
            using var s = new MemoryStream();
            m.WriteDequantizedFloat(s);
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(s.ToArray()).ToArray();
        }

        static float[] ScalesOf(QuantizedMatrix m)
        {
            using var s = new MemoryStream();
            m.WriteScalesAsFloat(s);
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(s.ToArray()).ToArray();
        }
    }

    [Fact]
    public void InputsOutputsAndInitializersFollowTheBuilderNames()
    {
        var preset = LlmPreset.Tiny;
        var inputs = _graph.Graph.Input.Select(i => i.Name).ToList();
        var outputs = _graph.Graph.Output.Select(o => o.Name).ToList();
        Assert.Equal(["input_ids", "attention_mask"], inputs.Take(2));
        Assert.Equal("logits", outputs[0]);
        for (var i = 0; i < preset.NumHiddenLayers; i++)
        {
            Assert.Contains($"past_key_values.{i}.key", inputs);
            Assert.Contains($"past_key_values.{i}.value", inputs);
            Assert.Contains($"present.{i}.key", outputs);
            Assert.Contains($"present.{i}.value", outputs);
        }

        var pastKey = _graph.Graph.Input.Single(i => i.Name == "past_key_values.0.key").Type.TensorType.Shape.Dim;
        Assert.Equal(preset.NumKeyValueHeads, pastKey[1].DimValue); // BNSH
        Assert.Equal(preset.HeadSize, pastKey[3].DimValue);
        Assert.All(_graph.Graph.Initializer, t =>
        {
            Assert.Equal(TensorProto.Types.DataLocation.External, t.DataLocation);
            Assert.Equal(LlmForge.ModelDataFileName, t.ExternalData.Single(e => e.Key == "location").Value);
        });
        Assert.Contains(_graph.Graph.Initializer, t => t.Name == "model.embed_tokens.weight");
        Assert.Contains(_graph.Graph.Initializer, t => t.Name == "lm_head.MatMul.weight_Q4");
    }

    [Fact]
    public void GenAiConfigDescribesTheGraph()
    {
        var preset = LlmPreset.Tiny;
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(model.Directory, "genai_config.json")));
        var modelNode = config.RootElement.GetProperty("model");
        var decoder = modelNode.GetProperty("decoder");
        Assert.Equal("qwen2", modelNode.GetProperty("type").GetString());
        Assert.Equal(preset.VocabSize, modelNode.GetProperty("vocab_size").GetInt32());
        Assert.Equal(model.Forged.BosTokenId, modelNode.GetProperty("bos_token_id").GetInt32());
        Assert.Equal(model.Forged.EosTokenId, modelNode.GetProperty("eos_token_id").GetInt32());
        Assert.Equal(LlmForge.ModelFileName, decoder.GetProperty("filename").GetString());
        Assert.Equal(preset.HeadSize, decoder.GetProperty("head_size").GetInt32());
        Assert.Equal(preset.NumKeyValueHeads, decoder.GetProperty("num_key_value_heads").GetInt32());
        Assert.Equal("past_key_values.%d.key", decoder.GetProperty("inputs").GetProperty("past_key_names").GetString());
        Assert.Equal("present.%d.value", decoder.GetProperty("outputs").GetProperty("present_value_names").GetString());
        Assert.True(config.RootElement.GetProperty("search").GetProperty("past_present_share_buffer").GetBoolean());
    }

    private static AttributeProto Attribute(NodeProto node, string name) => node.Attribute.Single(a => a.Name == name);
}
