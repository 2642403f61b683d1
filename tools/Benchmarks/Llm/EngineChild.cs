using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Appliance.Benchmarks.Llm.Engines;
using Appliance.Inference;

namespace Appliance.Benchmarks.Llm;

/// <summary>
/// One engine in its own process (so that its peak memory is its own), driven by <see cref="EngineChildProcess"/>
/// over standard input and output: it loads the model and writes <see cref="ReadyLine"/>; then each
/// <see cref="WarmupCommand"/> or <see cref="RunCommand"/> line runs one generation and is answered by that run's
/// <see cref="RunSample"/> as one JSON line; at the end of input it writes its <see cref="EngineResult"/> and returns.
/// </summary>
internal static class EngineChild
{
    public const string ReadyLine = "ready";
    public const string WarmupCommand = "warmup";
    public const string RunCommand = "run";

    public static async Task RunAsync(LlmBenchSettings settings, LlmEngineKind kind, TextReader commands, TextWriter output, TextWriter progress)
    {
        var prompt = settings.PromptIds();
        if (kind is LlmEngineKind.Service or LlmEngineKind.ServiceNoCpuArena or LlmEngineKind.ServiceSpinWithinRun or LlmEngineKind.ServiceInt4Embedding or LlmEngineKind.ServicePrunedHead or LlmEngineKind.ServiceFp16KvCache)
        {
            // As the daemon starts by default, before anything allocates.
            NativeHeap.Tune(NativeHeap.ApplianceArenas, NativeHeap.ApplianceMmapThresholdBytes);
        }

        var loadStart = Stopwatch.GetTimestamp();
        await using var engine = await LoadAsync(settings, kind).ConfigureAwait(false);
        var loadTime = Stopwatch.GetElapsedTime(loadStart);
        progress.WriteLine(Invariant($"[{kind.CliName()}] loaded in {loadTime.TotalSeconds:F2} s"));
        await output.WriteLineAsync(ReadyLine).ConfigureAwait(false);
        await output.FlushAsync().ConfigureAwait(false);

        var runs = new List<RunSample>();
        while (await commands.ReadLineAsync().ConfigureAwait(false) is { } command)
        {
            var sample = Sample(await engine.GenerateAsync(prompt, settings.DecodeTokens).ConfigureAwait(false), prompt.Length);
            if (command == RunCommand)
            {
                runs.Add(sample);
            }

            progress.WriteLine(Invariant($"[{kind.CliName()}] {command}: {Describe(sample)}"));
            await output.WriteLineAsync(JsonSerializer.Serialize(sample, BenchJson.Default.RunSample)).ConfigureAwait(false);
            await output.FlushAsync().ConfigureAwait(false);
        }

        var result = new EngineResult(kind.CliName(), loadTime.TotalSeconds, ProcessMemory.PeakResidentBytes(), prompt.Length, runs);
        await output.WriteLineAsync(JsonSerializer.Serialize(result, BenchJson.Default.EngineResult)).ConfigureAwait(false);
        await output.FlushAsync().ConfigureAwait(false);
    }

    private static async Task<ILlmEngine> LoadAsync(LlmBenchSettings settings, LlmEngineKind kind) => kind switch
    {
        LlmEngineKind.Service => await ServiceEngine.LoadAsync(settings.ModelDirectory, settings.Threads, settings.TotalTokens, cpuArena: true).ConfigureAwait(false),
        LlmEngineKind.ServiceNoCpuArena => await ServiceEngine.LoadAsync(settings.ModelDirectory, settings.Threads, settings.TotalTokens, cpuArena: false).ConfigureAwait(false),
        LlmEngineKind.ServiceSpinWithinRun => await ServiceEngine.LoadAsync(settings.ModelDirectory, settings.Threads, settings.TotalTokens, cpuArena: true, SpinPolicy.WithinRun).ConfigureAwait(false),
        LlmEngineKind.ServiceInt4Embedding => await ServiceEngine.LoadAsync(settings.Int4EmbeddingModelDirectory, settings.Threads, settings.TotalTokens, cpuArena: true).ConfigureAwait(false),
        LlmEngineKind.ServicePrunedHead => await ServiceEngine.LoadAsync(settings.PrunedHeadModelDirectory, settings.Threads, settings.TotalTokens, cpuArena: true).ConfigureAwait(false),
        LlmEngineKind.ServiceFp16KvCache => await ServiceEngine.LoadAsync(settings.Fp16KvCacheModelDirectory, settings.Threads, settings.TotalTokens, cpuArena: true).ConfigureAwait(false),
        LlmEngineKind.Bare => BareGenAiEngine.Load(settings.ModelDirectory, settings.Threads, settings.TotalTokens),
        LlmEngineKind.BareNgram => BareGenAiEngine.Load(settings.ModelDirectory, settings.Threads, settings.TotalTokens, ngram: true),
        LlmEngineKind.LlamaCpp => LlamaCppEngine.Load(settings.GgufPath, settings.Threads, settings.PromptTokens, settings.TotalTokens),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static RunSample Sample(RunTiming timing, int promptTokens) => new(
        timing.TimeToFirstToken.TotalSeconds,
        promptTokens / timing.TimeToFirstToken.TotalSeconds,
        (timing.GeneratedTokens - 1) / timing.DecodeTime.TotalSeconds,
        timing.GeneratedTokens,
        timing.Drafts?.Proposed,
        timing.Drafts?.Accepted);

    private static string Describe(RunSample run) =>
        Invariant($"first token {run.TimeToFirstTokenSeconds:F2} s (prefill {run.PrefillTokensPerSecond:F1} tok/s), decode {run.DecodeTokensPerSecond:F2} tok/s over {run.GeneratedTokens} tokens{(run.DraftsProposed is { } proposed ? $", {proposed} draft tokens proposed, {run.DraftsAccepted} accepted" : "")}");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
