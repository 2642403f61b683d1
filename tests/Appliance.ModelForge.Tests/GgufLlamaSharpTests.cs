using Appliance.ModelForge.Llm;
using LLama;
using LLama.Common;
using LLama.Native;
using LLama.Sampling;
using Xunit.Abstractions;

namespace Appliance.ModelForge.Tests;

/// <summary>The GGUF holds the same weights as the ONNX model, so llama.cpp must pick the same greedy tokens.</summary>
[Collection(ForgedTinyModelGroup.Name)]
public sealed class GgufLlamaSharpTests(ForgedTinyModel model, ITestOutputHelper output)
{
    private const string Prompt = "Hello, how are you?";
    private const int NewTokens = 8;

    static GgufLlamaSharpTests()
    {
        // llama.cpp logs every tensor it loads; keep the test output to warnings and errors.
        NativeLogConfig.llama_log_set((level, message) =>
        {
            if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error)
            {
                Console.Error.Write(message);
            }
        });
    }

    [Fact]
    public void TinyGgufLoadsInLlamaCppAndDecodesLikeGenAi()
    {
        var (promptIds, generated, vocabulary) = Greedy(model.Forged.GgufPath!, Prompt, NewTokens);
        var reference = GenAiGreedy.Generate(model.Directory, Prompt, NewTokens);
        output.WriteLine($"llama.cpp prompt [{string.Join(", ", promptIds)}] generated [{string.Join(", ", generated)}]");
        output.WriteLine($"GenAI     prompt [{string.Join(", ", reference.PromptIds)}] generated [{string.Join(", ", reference.GeneratedIds)}]");
        Assert.Equal(LlmPreset.Tiny.VocabSize, vocabulary);
        Assert.Equal(reference.PromptIds, promptIds);
        Assert.Equal(reference.GeneratedIds, generated);
    }

    /// <summary>llama.cpp's prompt ids, greedy ids and vocabulary size for a GGUF, on the CPU.</summary>
    internal static (int[] PromptIds, int[] GeneratedIds, int VocabularySize) Greedy(string ggufPath, string prompt, int newTokens)
    {
        var parameters = new ModelParams(ggufPath) { ContextSize = 128, GpuLayerCount = 0 };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var promptIds = context.Tokenize(prompt, addBos: false, special: true);

        var generated = new List<int>();
        var batch = new LLamaBatch();
        batch.AddRange(promptIds, 0, LLamaSeqId.Zero, true);
        using var sampler = new GreedySamplingPipeline();
        var position = promptIds.Length;
        for (var i = 0; i < newTokens; i++)
        {
            Assert.Equal(DecodeResult.Ok, context.Decode(batch));
            var token = sampler.Sample(context.NativeHandle, batch.TokenCount - 1);
            generated.Add((int)token);
            batch.Clear();
            batch.Add(token, position++, LLamaSeqId.Zero, true);
        }

        return ([.. promptIds.Select(t => (int)t)], [.. generated], weights.Vocab.Count);
    }
}
