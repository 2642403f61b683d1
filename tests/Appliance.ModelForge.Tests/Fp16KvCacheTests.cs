using Appliance.ModelForge.Llm;
using Onnx;
using Xunit.Abstractions;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Appliance.ModelForge.Tests;

/// <summary>The tiny preset forged with an fp16 KV cache (<see cref="LlmKvCachePrecision.Fp16"/>).</summary>
public sealed class Fp16KvCacheTwin() : ForgedTwin("kv16", new LlmForgeOptions { KvCache = LlmKvCachePrecision.Fp16 });

/// <summary>
/// A float16 KV cache keeps the graph float32 outside the attention, gives the float32 cache's logits to float16
/// rounding, and GenAI and transformers.js generate the same tokens from it. Those need not be the float32 cache's: on
/// the tiny model's random weights a near tie at the fourth token goes the other way.
/// </summary>
[Collection(ForgedTinyModelGroup.Name)]
public sealed class Fp16KvCacheTests(ForgedTinyModel fp32Cache, Fp16KvCacheTwin fp16Cache, ITestOutputHelper output) : IClassFixture<Fp16KvCacheTwin>
{
    private const string Prompt = "Turn on the kitchen lights and set the oven to 180 degrees.";
    private const int NewTokens = 16;

    [Fact]
    public void The_cache_and_the_attention_are_float16_between_two_casts_and_the_rest_stays_float32()
    {
        var graph = ForgedGraph.Read(fp16Cache.Directory);
        var layers = LlmPreset.Tiny.NumHiddenLayers;
        var caches = graph.Input.Where(i => i.Name.StartsWith("past_key_values.", StringComparison.Ordinal))
            .Concat(graph.Output.Where(o => o.Name.StartsWith("present.", StringComparison.Ordinal)))
            .ToList();
        Assert.Equal(4 * layers, caches.Count);
        Assert.All(caches, c => Assert.Equal((int)DataType.Float16, c.Type.TensorType.ElemType));
        Assert.Equal((int)DataType.Float, graph.Output.Single(o => o.Name == "logits").Type.TensorType.ElemType);

        var attentions = graph.Node.Where(n => n.OpType == "GroupQueryAttention").ToList();
        Assert.Equal(layers, attentions.Count);
        foreach (var attention in attentions)
        {
            var before = graph.Node.Single(n => n.Output[0] == attention.Input[0]);
            Assert.Equal("Cast", before.OpType);
            Assert.Equal((long)DataType.Float16, before.Attribute.Single(a => a.Name == "to").I);
            Assert.Equal("Add", graph.Node.Single(n => n.Output[0] == before.Input[0]).OpType);

            var after = graph.Node.Single(n => n.Input.Count > 0 && n.Input[0] == attention.Output[0]);
            Assert.Equal("Cast", after.OpType);
            Assert.Equal((long)DataType.Float, after.Attribute.Single(a => a.Name == "to").I);
            Assert.Equal("MatMulNBits", graph.Node.Single(n => n.Input.Count > 0 && n.Input[0] == after.Output[0]).OpType);

            foreach (var rotary in attention.Input.Skip(7))
            {
                Assert.Equal((int)DataType.Float16, graph.Initializer.Single(t => t.Name == rotary).DataType);
            }
        }

        Assert.Equal(layers, graph.Node.Count(n => n.OpType == "Cast" && n.Attribute.Single(a => a.Name == "to").I == (long)DataType.Float16));
        Assert.Equal(["cos_cache", "sin_cache"], graph.Initializer.Where(t => t.DataType == (int)DataType.Float16).Select(t => t.Name).Order());
    }

    [Fact]
    public void The_logits_are_the_float32_caches_within_float16_rounding()
    {
        var preset = LlmPreset.Tiny;
        long[] prompt = [410, 44, 378, 367, 258, 372, 326, 63];
        var expected = ForgedGraph.Logits(fp32Cache.Directory, preset, prompt);
        var actual = ForgedGraph.Logits(fp16Cache.Directory, preset, prompt);

        Assert.Equal(expected.Length, actual.Length);
        var spread = expected.Max() - expected.Min();
        var largestDifference = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"logit spread {spread}; largest difference from the float32 cache's logits: {largestDifference}");
        Assert.True(largestDifference > 0, "the float16 cache rounds, so some logit must move");
        Assert.True(largestDifference <= spread * 1e-2f, $"largest difference {largestDifference} against a spread of {spread}");
    }

    [Fact]
    public void GenAi_and_transformers_js_generate_the_same_tokens_from_the_float16_cache()
    {
        var genAi = GenAiGreedy.Generate(fp16Cache.Directory, Prompt, NewTokens);
        var node = ParityHarness.Greedy(fp16Cache.Directory, Prompt, NewTokens);
        output.WriteLine($"GenAI [{string.Join(", ", genAi.GeneratedIds)}]; transformers.js {node.RootElement.GetProperty("generated_ids").GetRawText()}");

        Assert.Equal(NewTokens, genAi.GeneratedIds.Length);
        Assert.Equal(genAi.PromptIds, ParityHarness.Ids(node, "prompt_ids"));
        Assert.Equal(genAi.GeneratedIds, ParityHarness.Ids(node, "generated_ids"));
    }
}
