using System.Text;
using Appliance.ModelForge.Llm;
using Onnx;
using Xunit.Abstractions;

namespace Appliance.ModelForge.Tests;

/// <summary>
/// The tiny preset forged four ways: untied and tied embeddings, each with the float table and with int4 codes for
/// <c>GatherBlockQuantized</c>; every folder with its GGUF. Removed afterwards.
/// </summary>
public sealed class EmbeddingVariants : IDisposable
{
    public const long Seed = 42;

    private readonly string _root = Path.Combine(Path.GetTempPath(), "modelforge-embedding-" + Guid.NewGuid().ToString("N"));

    public EmbeddingVariants()
    {
        foreach (var tied in new[] { false, true })
        {
            foreach (var format in new[] { LlmEmbeddingFormat.Dequantized, LlmEmbeddingFormat.Int4 })
            {
                LlmForge.Write(Preset(tied), Seed, Folder(tied, format), new LlmForgeOptions { WriteGguf = true, Embedding = format });
            }
        }
    }

    public static LlmPreset Preset(bool tied) => LlmPreset.Tiny with { TieWordEmbeddings = tied };

    public string Folder(bool tied, LlmEmbeddingFormat format) => Path.Combine(_root, $"{(tied ? "tied" : "untied")}-{format}");

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

/// <summary>
/// The int4 embedding (and, for tied embeddings, the one table shared with the LM head) computes the same function as
/// the float table it replaces, in ONNX Runtime, GenAI, transformers.js and llama.cpp, in a fraction of the bytes.
/// </summary>
public sealed class QuantizedEmbeddingTests(EmbeddingVariants variants, ITestOutputHelper output) : IClassFixture<EmbeddingVariants>
{
    private const string Prompt = "Turn on the kitchen lights and set the oven to 180 degrees.";
    private const int NewTokens = 16;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_int4_embedding_gives_the_same_logits_as_the_float_table(bool tied)
    {
        long[] prompt = [410, 44, 378, 367, 258, 372, 326, 63];
        var reference = ForgedGraph.Logits(variants.Folder(tied, LlmEmbeddingFormat.Dequantized), EmbeddingVariants.Preset(tied), prompt);
        var quantized = ForgedGraph.Logits(variants.Folder(tied, LlmEmbeddingFormat.Int4), EmbeddingVariants.Preset(tied), prompt);

        Assert.Equal(prompt.Length * EmbeddingVariants.Preset(tied).VocabSize, reference.Length);
        Assert.True(reference.Max() - reference.Min() > 1, "the logits are spread, so a wrong embedding row would show");
        Assert.Equal(reference, quantized); // the table holds the codes' exact float values, so equal to the bit
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_int4_embedding_replaces_the_float_table_in_the_graph_and_in_the_bytes(bool tied)
    {
        var preset = EmbeddingVariants.Preset(tied);
        var floatFolder = variants.Folder(tied, LlmEmbeddingFormat.Dequantized);
        var int4Folder = variants.Folder(tied, LlmEmbeddingFormat.Int4);
        var graph = ForgedGraph.Read(int4Folder);

        Assert.DoesNotContain(graph.Initializer, t => t.Name == "model.embed_tokens.weight");
        Assert.Contains(ForgedGraph.Read(floatFolder).Initializer, t => t.Name == "model.embed_tokens.weight" && t.DataType == (int)TensorProto.Types.DataType.Float);
        var gather = Assert.Single(graph.Node, n => n.OpType == "GatherBlockQuantized");
        Assert.Equal("com.microsoft", gather.Domain);
        Assert.Equal(4, gather.Attribute.Single(a => a.Name == "bits").I);
        Assert.Equal(32, gather.Attribute.Single(a => a.Name == "block_size").I);
        var head = graph.Node.Single(n => n.OpType == "MatMulNBits" && n.Output[0] == "logits");

        long weights = (long)preset.VocabSize * preset.HiddenSize;
        long codesAndScales = (weights / 2) + (weights / 32 * 4);
        long saved = new FileInfo(Path.Combine(floatFolder, LlmForge.ModelDataFileName)).Length
            - new FileInfo(Path.Combine(int4Folder, LlmForge.ModelDataFileName)).Length;
        if (tied)
        {
            // One initializer: the head's blob, reshaped to [vocabulary, hidden / 2] for the gather.
            var reshape = graph.Node.Single(n => n.Output[0] == gather.Input[0]);
            Assert.Equal("Reshape", reshape.OpType);
            Assert.Equal(head.Input[1], reshape.Input[0]);
            Assert.Equal(head.Input[2], gather.Input[2]);
            Assert.Equal(weights * 4, saved); // the float table is gone; the head's codes serve both
        }
        else
        {
            Assert.NotEqual(head.Input[1], gather.Input[0]);
            Assert.Equal((weights * 4) - codesAndScales, saved);
        }

        output.WriteLine($"tied {tied}: {saved} bytes saved of the float table's {weights * 4}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GenAi_and_transformers_js_agree_token_for_token_on_the_int4_embedding(bool tied)
    {
        var folder = variants.Folder(tied, LlmEmbeddingFormat.Int4);
        var genAi = GenAiGreedy.Generate(folder, Prompt, NewTokens);
        var node = ParityHarness.Greedy(folder, Prompt, NewTokens);
        output.WriteLine($"GenAI [{string.Join(", ", genAi.GeneratedIds)}]; transformers.js {node.RootElement.GetProperty("generated_ids").GetRawText()}");

        Assert.Equal(NewTokens, genAi.GeneratedIds.Length);
        Assert.Equal(genAi.PromptIds, ParityHarness.Ids(node, "prompt_ids"));
        Assert.Equal(genAi.GeneratedIds, ParityHarness.Ids(node, "generated_ids"));
        Assert.Equal(GenAiGreedy.Generate(variants.Folder(tied, LlmEmbeddingFormat.Dequantized), Prompt, NewTokens).GeneratedIds, genAi.GeneratedIds);
    }

    [Fact]
    public void A_tied_gguf_has_no_output_matrix_and_llama_cpp_decodes_it_like_GenAi()
    {
        var tiedFolder = variants.Folder(true, LlmEmbeddingFormat.Int4);
        var untiedGguf = File.ReadAllBytes(Path.Combine(variants.Folder(false, LlmEmbeddingFormat.Int4), LlmForge.GgufFileName));
        var tiedGguf = File.ReadAllBytes(Path.Combine(tiedFolder, LlmForge.GgufFileName));
        // GGUF strings are a little-endian u64 length and the bytes, so this cannot match blk.N.attn_output.weight.
        byte[] outputTensor = [13, 0, 0, 0, 0, 0, 0, 0, .. Encoding.ASCII.GetBytes("output.weight")];
        Assert.True(untiedGguf.AsSpan().IndexOf(outputTensor) >= 0, "an untied GGUF names its output matrix");
        Assert.True(tiedGguf.AsSpan().IndexOf(outputTensor) < 0, "a tied GGUF leaves it to token_embd");

        var (promptIds, generated, _) = GgufLlamaSharpTests.Greedy(Path.Combine(tiedFolder, LlmForge.GgufFileName), Prompt, 8);
        var reference = GenAiGreedy.Generate(tiedFolder, Prompt, 8);
        output.WriteLine($"llama.cpp [{string.Join(", ", generated)}]; GenAI [{string.Join(", ", reference.GeneratedIds)}]");
        Assert.Equal(reference.PromptIds, promptIds);
        Assert.Equal(reference.GeneratedIds, generated);
    }
}
