using System.Text.Json;
using Appliance.Benchmarks.Llm.Engines;

namespace Appliance.Benchmarks.Llm;

/// <summary>The time of one operator type inside the decode steps of a profiled generation.</summary>
/// <param name="OpType">The ONNX operator type (<c>MatMulNBits</c>, <c>GroupQueryAttention</c>, ...).</param>
/// <param name="MicrosecondsPerToken">Its kernels' time per decoded token, in microseconds.</param>
/// <param name="NodesPerToken">Its kernel runs per decoded token.</param>
/// <param name="Share">Its share of all kernel time in the decode steps (0 to 1).</param>
internal sealed record OpTime(string OpType, double MicrosecondsPerToken, double NodesPerToken, double Share);

/// <summary>What ONNX Runtime's profiler saw in the decode steps of one generation.</summary>
/// <param name="Steps">Decode steps profiled (graph runs after the prompt's).</param>
/// <param name="RunMicrosecondsPerToken">A decode step's graph run, whole (ONNX Runtime's <c>model_run</c> event), in microseconds.</param>
/// <param name="KernelMicrosecondsPerToken">The sum of a step's kernel times, in microseconds.</param>
/// <param name="WallMicrosecondsPerToken">A decode step as the caller sees it (<c>GenerateNextToken</c> and reading the token), in microseconds; it includes GenAI's search and the profiler's own cost.</param>
/// <param name="Ops">Operator types, the costliest first.</param>
internal sealed record DecodeProfileResult(int Steps, double RunMicrosecondsPerToken, double KernelMicrosecondsPerToken, double WallMicrosecondsPerToken, IReadOnlyList<OpTime> Ops);

/// <summary>
/// The decode step of a forged LLM, kernel by kernel: the bare GenAI loop (<see cref="BareGenAiEngine"/>) on the
/// benchmark's model with ONNX Runtime's profiler on (GenAI's <c>session_options.enable_profiling</c>), then the profile's JSON read back: every kernel event
/// (<c>cat</c> "Node", its <c>args.op_name</c> and <c>dur</c> in microseconds) inside a <c>model_run</c> after the
/// prompt's, summed by operator type.
/// </summary>
internal static class DecodeProfile
{
    /// <summary>
    /// Profiles <paramref name="decodeTokens"/> greedy tokens after <paramref name="prompt"/> (at least 2: the first
    /// comes from the prompt's run), with the session's graph optimized at <paramref name="graphOptimizationLevel"/>
    /// (GenAI's <c>session_options.graph_optimization_level</c>: <c>ORT_DISABLE_ALL</c>, <c>ORT_ENABLE_BASIC</c>,
    /// <c>ORT_ENABLE_EXTENDED</c> or <c>ORT_ENABLE_ALL</c>; null for GenAI's default, all).
    /// </summary>
    public static async Task<DecodeProfileResult> RunAsync(string modelDirectory, int threads, int[] prompt, int decodeTokens, string workDirectory, string? graphOptimizationLevel = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(decodeTokens, 2);
        RunTiming timing;
        var profiling = new Dictionary<string, string> { ["enable_profiling"] = Path.Combine(workDirectory, "decode-profile") };
        if (graphOptimizationLevel is not null)
        {
            profiling["graph_optimization_level"] = graphOptimizationLevel;
        }

        await using (var engine = BareGenAiEngine.Load(modelDirectory, threads, prompt.Length + decodeTokens, profiling))
        {
            timing = await engine.GenerateAsync(prompt, decodeTokens).ConfigureAwait(false);
        } // the session writes its profile when the model is freed

        var file = Directory.EnumerateFiles(workDirectory, "decode-profile*.json").OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            ?? throw new InvalidOperationException($"ONNX Runtime wrote no profile under {workDirectory}");
        using var stream = File.OpenRead(file);
        using var document = JsonDocument.Parse(stream);
        return Read(document.RootElement, decodeTokens - 1, timing.DecodeTime.TotalMicroseconds / (decodeTokens - 1));
    }

    /// <summary>
    /// Sums the kernel events of the last <paramref name="steps"/> <c>model_run</c>s (the decode steps; the prompt's run
    /// comes first) by operator type. Throws <see cref="InvalidDataException"/> when the profile holds another number of runs.
    /// </summary>
    internal static DecodeProfileResult Read(JsonElement events, int steps, double wallMicrosecondsPerToken)
    {
        var runs = events.EnumerateArray()
            .Where(e => e.GetProperty("cat").GetString() == "Session" && e.GetProperty("name").GetString() == "model_run")
            .Select(e => (Start: e.GetProperty("ts").GetInt64(), Duration: e.GetProperty("dur").GetInt64()))
            .OrderBy(r => r.Start)
            .ToList();
        if (runs.Count != steps + 1)
        {
            throw new InvalidDataException($"the profile holds {runs.Count} graph runs; the prompt's and {steps} decode steps were expected");
        }

        var decode = runs.Skip(1).ToList();
        var byOp = new Dictionary<string, (long Micros, int Count)>(StringComparer.Ordinal);
        foreach (var e in events.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() != "Node" || !e.TryGetProperty("args", out var args) || !args.TryGetProperty("op_name", out var op)
                || !(e.GetProperty("name").GetString() ?? "").EndsWith("_kernel_time", StringComparison.Ordinal))
            {
                continue;
            }

            var start = e.GetProperty("ts").GetInt64();
            if (!decode.Any(r => start >= r.Start && start <= r.Start + r.Duration))
            {
                continue;
            }

            var name = op.GetString() ?? "?";
            var (micros, count) = byOp.GetValueOrDefault(name);
            byOp[name] = (micros + e.GetProperty("dur").GetInt64(), count + 1);
        }

        var kernels = byOp.Values.Sum(v => (double)v.Micros);
        var ops = byOp.OrderByDescending(kv => kv.Value.Micros)
            .Select(kv => new OpTime(kv.Key, (double)kv.Value.Micros / steps, (double)kv.Value.Count / steps, kernels == 0 ? 0 : kv.Value.Micros / kernels))
            .ToList();
        return new DecodeProfileResult(steps, decode.Average(r => (double)r.Duration), kernels / steps, wallMicrosecondsPerToken, ops);
    }
}
