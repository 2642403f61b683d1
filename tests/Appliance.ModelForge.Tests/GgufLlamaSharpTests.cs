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
        var parameters = new ModelParams(model.Forged.GgufPath!) { ContextSize = 128, GpuLayerCount = 0 };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var prompt = context.Tokenize(Prompt, addBos: false, special: true);

        var generated = new List<int>();
        var batch = new LLamaBatch();
        batch.AddRange(prompt, 0, LLamaSeqId.Zero, true);
        using var sampler = new GreedySamplingPipeline();
        var position = prompt.Length;
        for (var i = 0; i < NewTokens; i++)
        {
            Assert.Equal(DecodeResult.Ok, context.Decode(batch));
            var token = sampler.Sample(context.NativeHandle, batch.TokenCount - 1);
            generated.Add((int)token);
            batch.Clear();
            batch.Add(token, position++, LLamaSeqId.Zero, true);
        }

        var reference = GenAiGreedy.Generate(model.Directory, Prompt, NewTokens);
        output.WriteLine($"llama.cpp prompt [{string.Join(", ", prompt.Select(t => (int)t))}] generated [{string.Join(", ", generated)}]");
        output.WriteLine($"GenAI     prompt [{string.Join(", ", reference.PromptIds)}] generated [{string.Join(", ", reference.GeneratedIds)}]");
        Assert.Equal(LlmPreset.Tiny.VocabSize, weights.Vocab.Count);
        Assert.Equal(reference.PromptIds, prompt.Select(t => (int)t));
        Assert.Equal(reference.GeneratedIds, generated);
    }
}
