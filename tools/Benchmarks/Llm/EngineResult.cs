using System.Text.Json.Serialization;

namespace Appliance.Benchmarks.Llm;

/// <summary>What one engine child measured; written by the child as JSON and read by the parent.</summary>
/// <param name="Engine">The engine's command-line name.</param>
/// <param name="LoadSeconds">Time to load the model and be ready to generate.</param>
/// <param name="PeakResidentBytes">The child's peak resident set (<c>VmHWM</c>).</param>
/// <param name="PromptTokens">Prompt length of every run.</param>
/// <param name="Runs">The measured runs (warm-up runs excluded).</param>
internal sealed record EngineResult(string Engine, double LoadSeconds, long PeakResidentBytes, int PromptTokens, IReadOnlyList<RunSample> Runs)
{
    public double TimeToFirstTokenSeconds => Median(r => r.TimeToFirstTokenSeconds);

    public double PrefillTokensPerSecond => Median(r => r.PrefillTokensPerSecond);

    public double DecodeTokensPerSecond => Median(r => r.DecodeTokensPerSecond);

    /// <summary>Draft tokens proposed in all measured runs, for an engine that speculates; 0 otherwise.</summary>
    public long DraftsProposed => Runs.Sum(r => r.DraftsProposed ?? 0);

    /// <summary>Draft tokens accepted in all measured runs, for an engine that speculates; 0 otherwise.</summary>
    public long DraftsAccepted => Runs.Sum(r => r.DraftsAccepted ?? 0);

    private double Median(Func<RunSample, double> value)
    {
        var sorted = Runs.Select(value).Order().ToArray();
        return sorted.Length == 0 ? 0
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>One measured generation.</summary>
/// <param name="TimeToFirstTokenSeconds">From the request to the first generated token.</param>
/// <param name="PrefillTokensPerSecond">Prompt tokens divided by the time to first token.</param>
/// <param name="DecodeTokensPerSecond">Generated tokens after the first, divided by the time after the first.</param>
/// <param name="GeneratedTokens">Tokens generated.</param>
/// <param name="DraftsProposed">With speculative decoding, the draft tokens proposed; null without.</param>
/// <param name="DraftsAccepted">With speculative decoding, the draft tokens accepted; null without.</param>
internal sealed record RunSample(double TimeToFirstTokenSeconds, double PrefillTokensPerSecond, double DecodeTokensPerSecond, int GeneratedTokens, long? DraftsProposed = null, long? DraftsAccepted = null);

/// <summary>Source-generated JSON of the benchmark's results, one line each (a child's result is its last line of output).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(EngineResult))]
[JsonSerializable(typeof(RunSample))]
[JsonSerializable(typeof(LlmBenchReport))]
internal sealed partial class BenchJson : JsonSerializerContext;
