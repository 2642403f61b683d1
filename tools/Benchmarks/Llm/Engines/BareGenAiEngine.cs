using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Appliance.Benchmarks.Llm.Engines;

/// <summary>
/// The smallest ONNX Runtime GenAI loop that generates with the model folder: one generator per request,
/// <c>AppendTokens</c>, then <c>GenerateNextToken</c> and <c>GetNextTokens</c> per token. No queue, no events,
/// no text: the floor of the service's overhead. The model is configured as the service configures it. Optionally
/// with GenAI's n-gram speculative decoding (prompt lookup): drafts copied from the sequence's own history, verified
/// by the model in one multi-token step.
/// </summary>
internal sealed class BareGenAiEngine : ILlmEngine
{
    /// <summary>The n-gram order (GenAI's <c>ngram_size</c>): the last 2 tokens are looked up; where GenAI's tuning guide starts.</summary>
    public const int NgramSize = 3;

    /// <summary>Tokens proposed a round (GenAI's <c>max_draft_tokens</c>), as GenAI's tuning guide starts.</summary>
    public const int MaxDraftTokens = 4;

    private readonly Model _model;
    private readonly bool _ngram;

    private BareGenAiEngine(Model model, bool ngram) => (_model, _ngram) = (model, ngram);

    /// <param name="modelDirectory">The model folder.</param>
    /// <param name="threads">ONNX Runtime intra-op threads.</param>
    /// <param name="contextTokens">The search's maximum length.</param>
    /// <param name="sessionConfigEntries">Entries to add to GenAI's <c>session_options</c>: ONNX Runtime session entries (a spin
    /// policy's) or GenAI's own (<c>enable_profiling</c>); none leaves the defaults.</param>
    /// <param name="ngram">Generate with n-gram speculative decoding (<see cref="NgramSize"/>, <see cref="MaxDraftTokens"/>).</param>
    public static BareGenAiEngine Load(string modelDirectory, int threads, int contextTokens, IReadOnlyDictionary<string, string>? sessionConfigEntries = null, bool ngram = false)
    {
        using var config = new Config(modelDirectory);
        config.ClearProviders();
        var session = new JsonObject { ["intra_op_num_threads"] = threads };
        foreach (var (key, value) in sessionConfigEntries ?? new Dictionary<string, string>())
        {
            session[key] = value;
        }

        var overlay = new JsonObject
        {
            ["model"] = new JsonObject { ["decoder"] = new JsonObject { ["session_options"] = session } },
            ["search"] = new JsonObject { ["max_length"] = contextTokens },
        };
        config.Overlay(overlay.ToJsonString());
        return new BareGenAiEngine(new Model(config), ngram);
    }

    public Task<RunTiming> GenerateAsync(int[] prompt, int newTokens)
    {
        var start = Stopwatch.GetTimestamp();
        using var generatorParams = new GeneratorParams(_model);
        generatorParams.SetSearchOption("max_length", prompt.Length + newTokens);
        generatorParams.SetSearchOption("do_sample", false);
        if (_ngram)
        {
            generatorParams.SetSpeculativeNumber("ngram_size", NgramSize);
            generatorParams.SetSpeculativeNumber("max_draft_tokens", MaxDraftTokens);
        }

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
        DraftCounts? drafts = null;
        if (_ngram)
        {
            using var stats = generator.GetSpeculativeStats();
            drafts = new DraftCounts((long)stats.GetCount("draft_tokens_proposed"), (long)stats.GetCount("draft_tokens_accepted"));
        }

        return Task.FromResult(new RunTiming(Stopwatch.GetElapsedTime(start, firstAt), Stopwatch.GetElapsedTime(firstAt, end), newTokens, drafts));
    }

    /// <summary>
    /// Reads up to <paramref name="tokens"/> greedy tokens after <paramref name="prompt"/>, pausing after each as a slow
    /// reader does (speech synthesis, a slow link); end of sequence may end it early.
    /// </summary>
    /// <returns>The tokens read, the wall time, and the processor time the whole process used meanwhile.</returns>
    public (int Tokens, TimeSpan Wall, TimeSpan Cpu) ReadWithPauses(int[] prompt, int tokens, TimeSpan pause)
    {
        using var generatorParams = new GeneratorParams(_model);
        generatorParams.SetSearchOption("max_length", prompt.Length + tokens);
        generatorParams.SetSearchOption("min_length", 0);
        using var generator = new Generator(_model, generatorParams);
        generator.AppendTokens(prompt);
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var start = Stopwatch.GetTimestamp();
        var read = 0;
        while (read < tokens && !generator.IsDone())
        {
            generator.GenerateNextToken();
            read++;
            Thread.Sleep(pause);
        }

        process.Refresh();
        return (read, Stopwatch.GetElapsedTime(start), process.TotalProcessorTime - cpu);
    }

    public ValueTask DisposeAsync()
    {
        _model.Dispose();
        return ValueTask.CompletedTask;
    }
}
