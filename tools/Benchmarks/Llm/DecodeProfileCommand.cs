using System.CommandLine;
using Appliance.ModelForge.Llm;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Llm;

/// <summary><c>appliance-bench decode-profile</c>: where a decode step's time goes, kernel by kernel (see <see cref="DecodeProfile"/>).</summary>
internal static class DecodeProfileCommand
{
    private const string FloatLayout = "float";
    private const string Int4EmbeddingLayout = "int4-embedding";
    private const string PrunedHeadLayout = "pruned-head";
    private const string Fp16KvLayout = "fp16-kv";

    public static Command Build(string[] args, Option<DirectoryInfo> models)
    {
        var preset = new Option<string>("--preset") { Description = "Shapes of the forged LLM", DefaultValueFactory = _ => LlmPreset.R1DistillQwen15B.Name };
        preset.AcceptOnlyFromAmong([.. LlmPreset.All.Select(p => p.Name)]);
        var threads = BenchmarkCli.Positive("--threads", "ONNX Runtime intra-op threads", 2);
        var decodeTokens = new Option<int>("--decode-tokens") { Description = "Tokens generated after the prompt, at least 2 (the first comes from the prompt's run)", DefaultValueFactory = _ => 33 };
        decodeTokens.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 2)
            {
                result.AddError("--decode-tokens must be at least 2: the first token comes from the prompt's run");
            }
        });
        var promptTokens = new Option<int?>("--prompt-tokens") { Description = "Prompt length before the profiled steps, so the KV cache's length (default 512; 64 for tiny)" };
        var blockSize = BenchmarkCli.BlockSize();
        var layout = new Option<string>("--layout")
        {
            Description = "Which of the llm benchmark's folders to profile: float (the float32 embedding), int4-embedding, pruned-head (int4 embedding and pruned LM head) or fp16-kv (those and an fp16 KV cache)",
            DefaultValueFactory = _ => FloatLayout,
        };
        layout.AcceptOnlyFromAmong(FloatLayout, Int4EmbeddingLayout, PrunedHeadLayout, Fp16KvLayout);
        var graphOptimization = new Option<string?>("--graph-optimization")
        {
            Description = "ONNX Runtime's graph optimization level for the session (GenAI's session_options.graph_optimization_level); default: GenAI's, ORT_ENABLE_ALL",
        };
        graphOptimization.AcceptOnlyFromAmong("ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL");
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var command = new Command("decode-profile", "Where the LLM's decode step goes, kernel by kernel: ONNX Runtime's profiler on the bare GenAI loop, summed by operator type")
        {
            preset, threads, promptTokens, decodeTokens, blockSize, layout, graphOptimization, models, markdown,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            LlmPreset.TryGet(parse.GetValue(preset)!, out var chosen);
            var console = AnsiConsole.Console;
            var startedAt = DateTime.UtcNow;
            var load = MachineInfo.LoadAverage();
            var settings = new LlmBenchSettings { Preset = chosen!, CacheDirectory = parse.GetValue(models)!.FullName, PromptTokens = parse.GetValue(promptTokens) ?? LlmBenchSettings.DefaultLengths(chosen!).Prompt, DecodeTokens = parse.GetValue(decodeTokens), Threads = parse.GetValue(threads), BlockSize = parse.GetValue(blockSize) };
            if (settings.PromptTokens < 1 || settings.TotalTokens > chosen!.ContextLength)
            {
                await Console.Error.WriteLineAsync($"Prompt ({settings.PromptTokens}) and decode ({settings.DecodeTokens}) tokens must fit the {chosen!.ContextLength}-token context of {chosen.Name}.").ConfigureAwait(false);
                return 2;
            }

            var chosenLayout = parse.GetValue(layout)!;
            Action<string> progress = line => console.MarkupLineInterpolated($"[grey]{line}[/]");
            if (chosenLayout == FloatLayout)
            {
                BenchModelCache.PrepareFloat(settings, progress);
            }
            else
            {
                BenchModelCache.Prepare(settings, progress);
            }

            var folder = chosenLayout switch
            {
                Int4EmbeddingLayout => settings.Int4EmbeddingModelDirectory,
                PrunedHeadLayout => settings.PrunedHeadModelDirectory,
                Fp16KvLayout => settings.Fp16KvCacheModelDirectory,
                _ => settings.ModelDirectory,
            };
            var traffic = DecodeTraffic.Count(settings);
            var bandwidth = MemoryBandwidth.MeasureRead(settings.BandwidthMebibytes, settings.Threads);
            var work = Directory.CreateTempSubdirectory("appliance-decode-profile-");
            DecodeProfileResult result;
            try
            {
                result = await DecodeProfile.RunAsync(folder, settings.Threads, settings.PromptIds(), settings.DecodeTokens, work.FullName, parse.GetValue(graphOptimization)).ConfigureAwait(false);
            }
            finally
            {
                work.Delete(recursive: true);
            }

            var rows = Rows(result, traffic, bandwidth).ToList();
            Print(console, rows);
            if (parse.GetValue(markdown) is { } output)
            {
                await File.WriteAllTextAsync(output.FullName, Markdown(
                    $"LLM decode step, kernel by kernel — {chosen!.Name}",
                    startedAt,
                    [
                        Invariant($"Load average (1/5/15 min) before the run: {load}"),
                        Invariant($"Model: the LLM benchmark's forged `{chosen!.Name}` (seed {settings.Seed}, {settings.OnnxLayout}; the `{chosenLayout}` folder), graph optimization {parse.GetValue(graphOptimization) ?? "ORT_ENABLE_ALL (GenAI's default)"}, {settings.Threads} intra-op threads, the bare GenAI loop with ONNX Runtime's profiler on"),
                        Invariant($"Run: a {settings.PromptTokens}-token prompt, then {result.Steps} decode steps profiled (greedy)"),
                    ],
                    string.Join(' ', args),
                    rows,
                    "Kernel times are ONNX Runtime's profiler events (`cat` Node) inside each decode step's `model_run`, summed by operator type; the step's run is the `model_run` event itself, so the difference between the two is ONNX Runtime's own work between kernels. The step as the caller sees it adds GenAI's search over the logits and the profiler's own cost, so it is slower than the unprofiled decode of the `llm` benchmark. The weights' bandwidth is the bytes every `MatMulNBits` reads a step (4-bit codes and scales) over the time of its kernels."), cancellationToken).ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    private static IEnumerable<(string Figure, string Value)> Rows(DecodeProfileResult result, DecodeTraffic traffic, double bandwidthBytesPerSecond)
    {
        yield return ("decode step as the caller sees it", Invariant($"{result.WallMicrosecondsPerToken / 1000:F2} ms"));
        yield return ("its graph run (model_run)", Invariant($"{result.RunMicrosecondsPerToken / 1000:F2} ms"));
        yield return ("its kernels, summed", Invariant($"{result.KernelMicrosecondsPerToken / 1000:F2} ms ({result.KernelMicrosecondsPerToken / result.RunMicrosecondsPerToken:P0} of the run)"));
        foreach (var op in result.Ops.Where(o => o.Share >= 0.001))
        {
            yield return (Invariant($"  {op.OpType} ({op.NodesPerToken:F0} a step)"), Invariant($"{op.MicrosecondsPerToken / 1000:F3} ms, {op.Share:P1}"));
        }

        if (result.Ops.FirstOrDefault(o => o.OpType == "MatMulNBits") is { } matMul)
        {
            var bytes = traffic.MatMulWeightBytes + traffic.MatMulScaleBytes;
            yield return ("MatMulNBits weights read a step", Invariant($"{bytes / 1e6:F1} MB"));
            yield return ("MatMulNBits reads them at", Invariant($"{bytes / (matMul.MicrosecondsPerToken / 1e6) / 1e9:F1} GB/s (memory bandwidth measured: {bandwidthBytesPerSecond / 1e9:F1} GB/s)"));
        }
    }
}
