using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Appliance.Benchmarks.Llm.Engines;

/// <summary>
/// The smallest ONNX Runtime GenAI loop that generates with the model folder: one generator per request,
/// <c>AppendTokens</c>, then <c>GenerateNextToken</c> and <c>GetNextTokens</c> per token. No queue, no events,
/// no text: the floor of the service's overhead. The model is configured as the service configures it.
/// </summary>
internal sealed class BareGenAiEngine : ILlmEngine
{
    private readonly Model _model;

    private BareGenAiEngine(Model model) => _model = model;

    public static BareGenAiEngine Load(string modelDirectory, int threads, int contextTokens)
    {
        using var config = new Config(modelDirectory);
        config.ClearProviders();
        var overlay = new JsonObject
        {
            ["model"] = new JsonObject { ["decoder"] = new JsonObject { ["session_options"] = new JsonObject { ["intra_op_num_threads"] = threads } } },
            ["search"] = new JsonObject { ["max_length"] = contextTokens },
        };
        config.Overlay(overlay.ToJsonString());
        return new BareGenAiEngine(new Model(config));
    }

    public Task<RunTiming> GenerateAsync(int[] prompt, int newTokens)
    {
        var start = Stopwatch.GetTimestamp();
        using var generatorParams = new GeneratorParams(_model);
        generatorParams.SetSearchOption("max_length", prompt.Length + newTokens);
        generatorParams.SetSearchOption("do_sample", false);
        using var generator = new Generator(_model, generatorParams);
        generator.AppendTokens(prompt);
        long firstAt = 0;
        for (var generated = 0; generated < newTokens; generated++)
        {
            if (generator.IsDone())
            {
                throw new InvalidOperationException($"the GenAI generator stopped after {generated} of {newTokens} tokens");
            }

            generator.GenerateNextToken();
            _ = generator.GetNextTokens()[0];
            if (generated == 0)
            {
                firstAt = Stopwatch.GetTimestamp();
            }
        }

        var end = Stopwatch.GetTimestamp();
        return Task.FromResult(new RunTiming(Stopwatch.GetElapsedTime(start, firstAt), Stopwatch.GetElapsedTime(firstAt, end), newTokens));
    }

    public ValueTask DisposeAsync()
    {
        _model.Dispose();
        return ValueTask.CompletedTask;
    }
}
