using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.ModelForge.Llm;
using Spectre.Console;

namespace Appliance.Benchmarks.Llm;

/// <summary>
/// The <c>llm</c> benchmark: forges the model if the cache lacks it, measures memory bandwidth and counts the bytes
/// read per token, runs each engine in its own child process, in rounds, and reports the figures and ratios.
/// </summary>
internal static class LlmBenchmark
{
    private static readonly BenchJson IndentedJson = new(new JsonSerializerOptions(BenchJson.Default.Options) { WriteIndented = true });

    public static async Task<LlmBenchReport> RunAsync(LlmBenchSettings settings, string command, IAnsiConsole console, CancellationToken cancellationToken)
    {
        var machine = MachineInfo.Read();
        console.WriteLine(Invariant($"{machine.Cpu}, {machine.Cores} cores, {machine.MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB; load average {MachineInfo.LoadAverage()}"));
        BenchModelCache.Prepare(settings, console.WriteLine);

        console.WriteLine(Invariant($"Measuring memory bandwidth over {settings.BandwidthMebibytes} MiB with {settings.Threads} threads"));
        var bandwidth = MemoryBandwidth.MeasureRead(settings.BandwidthMebibytes, settings.Threads);
        var traffic = DecodeTraffic.Count(settings);

        var loadBefore = MachineInfo.LoadAverage();
        var engines = await RunRoundsAsync(settings, console, cancellationToken).ConfigureAwait(false);

        var report = new LlmBenchReport(
            command,
            DateTimeOffset.UtcNow,
            machine,
            loadBefore,
            MachineInfo.LoadAverage(),
            settings.Preset.Name,
            settings.Seed,
            Shapes(settings),
            $"ONNX Runtime GenAI {PackageVersion("Microsoft.ML.OnnxRuntimeGenAI")} (ONNX Runtime {PackageVersion("Microsoft.ML.OnnxRuntime")}), LLamaSharp {PackageVersion("LLamaSharp")}",
            settings.Threads,
            settings.PromptTokens,
            settings.DecodeTokens,
            settings.WarmupRounds,
            settings.BandwidthMebibytes,
            bandwidth,
            traffic,
            engines);
        LlmReportWriter.WriteConsole(report, console);
        return report;
    }

    // Loads every engine in its own child, one after the other, then has them generate in turn, round after round,
    // starting each round with the next engine, so that a change in the machine's load touches all of them alike.
    private static async Task<List<EngineResult>> RunRoundsAsync(LlmBenchSettings settings, IAnsiConsole console, CancellationToken cancellationToken)
    {
        var children = new List<EngineChildProcess>();
        try
        {
            foreach (var kind in LlmEngineKindNames.All)
            {
                console.WriteLine($"Loading {kind.CliName()} in a child process");
                children.Add(await EngineChildProcess.StartAsync(settings, kind, cancellationToken).ConfigureAwait(false));
            }

            var measuring = Stopwatch.StartNew();
            for (var round = 0; round < settings.WarmupRounds + settings.MeasuredRounds; round++)
            {
                var warmup = round < settings.WarmupRounds;
                if (round == settings.WarmupRounds)
                {
                    measuring.Restart();
                }
                else if (!warmup && measuring.Elapsed > settings.MeasuredTimeBound)
                {
                    console.WriteLine(Invariant($"Stopping after {round - settings.WarmupRounds} measured rounds: the bound of {settings.MeasuredTimeBound.TotalSeconds:F0} s is spent"));
                    break;
                }

                console.WriteLine(warmup ? $"Warm-up round {round + 1}" : $"Measured round {round - settings.WarmupRounds + 1} of {settings.MeasuredRounds}");
                for (var i = 0; i < children.Count; i++)
                {
                    await children[(round + i) % children.Count].RunAsync(warmup, cancellationToken).ConfigureAwait(false);
                }
            }

            var results = new List<EngineResult>();
            foreach (var child in children)
            {
                results.Add(await child.FinishAsync(cancellationToken).ConfigureAwait(false));
            }

            return results;
        }
        finally
        {
            foreach (var child in children)
            {
                await child.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public static string ToJson(LlmBenchReport report) => JsonSerializer.Serialize(report, IndentedJson.LlmBenchReport);

    private static string Shapes(LlmBenchSettings settings) => Invariant(
        $"hidden {settings.Preset.HiddenSize}, {settings.Preset.NumHiddenLayers} layers, {settings.Preset.NumAttentionHeads} heads / {settings.Preset.NumKeyValueHeads} KV heads of {settings.Preset.HeadSize}, MLP {settings.Preset.IntermediateSize}, vocabulary {settings.Preset.VocabSize}; ONNX {settings.OnnxLayout} with an fp32 KV cache, GGUF Q4_0 with llama.cpp's fp16 KV cache");

    // The managed assemblies of these packages carry no version; the application's deps.json names the packages.
    private static string PackageVersion(string id)
    {
        var depsFile = (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string)?.Split(';')[0]; // the app's own file comes first
        var libraries = depsFile is not null && File.Exists(depsFile) ? JsonNode.Parse(File.ReadAllText(depsFile))?["libraries"] as JsonObject : null;
        var key = libraries?.Select(l => l.Key).FirstOrDefault(k => k.StartsWith(id + "/", StringComparison.OrdinalIgnoreCase));
        return key?[(id.Length + 1)..] ?? "unknown";
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
