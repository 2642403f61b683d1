using Appliance.ModelForge.Llm;
using Onnx;
using Xunit.Abstractions;

namespace Appliance.ModelForge.Tests;

/// <summary>The tiny preset forged with <see cref="LlmForgeOptions.PruneLmHead"/>.</summary>
public sealed class PrunedHeadTwin() : ForgedTwin("pruned", new LlmForgeOptions { PruneLmHead = true });

/// <summary>
/// A pruned LM head (the GenAI builder's <c>prune_lm_head=true</c>) computes the last position's logits of the full
/// head, and GenAI and transformers.js generate from it what they generate from the full model.
/// </summary>
[Collection(ForgedTinyModelGroup.Name)]
public sealed class PrunedLmHeadTests(ForgedTinyModel full, PrunedHeadTwin pruned, ITestOutputHelper output) : IClassFixture<PrunedHeadTwin>
{
    private const string Prompt = "Turn on the kitchen lights and set the oven to 180 degrees.";
    private const int NewTokens = 16;

    [Fact]
    public void The_pruned_head_gives_the_full_heads_logits_of_the_last_position()
    {
        var preset = LlmPreset.Tiny;
        long[] prompt = [410, 44, 378, 367, 258, 372, 326, 63];
        var all = ForgedGraph.Logits(full.Directory, preset, prompt);
        var last = ForgedGraph.Logits(pruned.Directory, preset, prompt);

        Assert.Equal(prompt.Length * preset.VocabSize, all.Length);
        Assert.Equal(preset.VocabSize, last.Length);
        var expected = all.AsSpan((prompt.Length - 1) * preset.VocabSize, preset.VocabSize).ToArray();
        Assert.True(expected.Max() - expected.Min() > 1, "the logits are spread, so another position's row would show");
        var largestDifference = expected.Zip(last, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"largest difference from the full head's last row: {largestDifference}");
        Assert.True(largestDifference <= 1e-4f, $"largest difference {largestDifference}");
    }

    [Fact]
    public void The_graph_declares_one_position_of_logits_and_feeds_the_head_the_last_hidden_state()
    {
        var graph = ForgedGraph.Read(pruned.Directory);
        var logits = graph.Output.Single(o => o.Name == "logits").Type.TensorType.Shape.Dim;
        Assert.Equal("batch_size", logits[0].DimParam);
        Assert.Equal(1, logits[1].DimValue);
        Assert.Equal(LlmPreset.Tiny.VocabSize, logits[2].DimValue);

        var head = graph.Node.Single(n => n.OpType == "MatMulNBits" && n.Output[0] == "logits");
        var unsqueeze = graph.Node.Single(n => n.Output[0] == head.Input[0]);
        Assert.Equal("Unsqueeze", unsqueeze.OpType);
        var gather = graph.Node.Single(n => n.Output[0] == unsqueeze.Input[0]);
        Assert.Equal("Gather", gather.OpType);
        Assert.Equal(1, gather.Attribute.Single(a => a.Name == "axis").I);
        var index = graph.Node.Single(n => n.Output[0] == gather.Input[1]);
        Assert.Equal("Constant", index.OpType);
        Assert.Equal([-1L], index.Attribute.Single(a => a.Name == "value").T.Int64Data);
        Assert.Equal("SkipSimplifiedLayerNormalization", graph.Node.Single(n => n.Output[0] == gather.Input[0]).OpType);

        var fullLogits = ForgedGraph.Read(full.Directory).Output.Single(o => o.Name == "logits").Type.TensorType.Shape.Dim;
        Assert.Equal("sequence_length", fullLogits[1].DimParam);
    }

    [Fact]
    public void GenAi_and_transformers_js_generate_from_the_pruned_head_what_GenAi_generates_from_the_full_one()
    {
        var reference = GenAiGreedy.Generate(full.Directory, Prompt, NewTokens);
        var genAi = GenAiGreedy.Generate(pruned.Directory, Prompt, NewTokens);
        var node = ParityHarness.Greedy(pruned.Directory, Prompt, NewTokens);
        output.WriteLine($"GenAI pruned [{string.Join(", ", genAi.GeneratedIds)}]; full [{string.Join(", ", reference.GeneratedIds)}]; transformers.js {node.RootElement.GetProperty("generated_ids").GetRawText()}");

        Assert.Equal(NewTokens, genAi.GeneratedIds.Length);
        Assert.Equal(reference.GeneratedIds, genAi.GeneratedIds);
        Assert.Equal(genAi.PromptIds, ParityHarness.Ids(node, "prompt_ids"));
        Assert.Equal(genAi.GeneratedIds, ParityHarness.Ids(node, "generated_ids"));
    }
}
