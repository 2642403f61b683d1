using System.CommandLine;
using System.Globalization;
using Appliance.Benchmarks.Llm;
using Appliance.Benchmarks.Idle;
using Appliance.Benchmarks.Meetings;
using Appliance.Benchmarks.Speech;
using Appliance.ModelForge.Llm;
using Spectre.Console;

namespace Appliance.Benchmarks;

/// <summary>The <c>appliance-bench</c> command line.</summary>
internal static class BenchmarkCli
{
    // Wide enough for the results table on one line per engine, also when the output is redirected (80 columns).
    private const int MinimumTableWidth = 120;

    public static Task<int> InvokeAsync(string[] args, CancellationToken cancellationToken = default) =>
        Build(args).Parse(args).InvokeAsync(cancellationToken: cancellationToken);

    private static RootCommand Build(string[] args)
    {
        var preset = new Option<string>("--preset")
        {
            Description = "Model shapes to forge and run: " + string.Join(", ", LlmPreset.All.Select(p => p.Name)),
            DefaultValueFactory = _ => LlmPreset.R1DistillQwen15B.Name,
        };
        preset.AcceptOnlyFromAmong([.. LlmPreset.All.Select(p => p.Name)]);
        var seed = new Option<long>("--seed") { Description = "Seed of the forged weights", DefaultValueFactory = _ => 42 };
        var models = new Option<DirectoryInfo>("--models")
        {
            Description = "Cache of forged models (default: artifacts/bench-models under the repository root)",
            DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(RepositoryRoot(), "artifacts", "bench-models")),
        };
        var threads = Positive("--threads", "Threads of every engine (ONNX Runtime intra-op, llama.cpp n_threads)", 2);
        var promptTokens = new Option<int?>("--prompt-tokens") { Description = "Prompt length (default 512; 64 for tiny)" };
        var decodeTokens = new Option<int?>("--decode-tokens") { Description = "Tokens generated per run (default 128; 16 for tiny)" };
        var warmup = new Option<int>("--warmup") { Description = "Unmeasured rounds (one generation by each engine)", DefaultValueFactory = _ => 1 };
        var runs = Positive("--runs", "Measured rounds, the engines taking turns (medians are reported)", 3);
        var maxSeconds = Positive("--max-seconds", "No further measured round starts once the measured rounds took this long", 300);
        var bandwidthMib = Positive("--bandwidth-mib", "Buffer streamed by the memory bandwidth measurement", 1024);
        var accuracyLevel = new Option<int>("--accuracy-level")
        {
            Description = "MatMulNBits accuracy_level of the forged ONNX models: 4 (int8 compute, the GenAI builder's CPU default) or 1 (fp32 compute)",
            DefaultValueFactory = _ => LlmForgeOptions.DefaultMatMulAccuracyLevel,
        };
        accuracyLevel.AcceptOnlyFromAmong("1", "4");
        var blockSize = BlockSize();
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var json = new Option<FileInfo?>("--json") { Description = "Write the results as JSON to this file" };
        var engine = new Option<string?>("--engine") { Description = "With --child: the engine to run", Hidden = true };
        engine.AcceptOnlyFromAmong([.. LlmEngineKindNames.All.Select(k => k.CliName())]);
        var child = new Option<bool>("--child") { Description = "Load one engine and run generations as standard input asks", Hidden = true };

        var llm = new Command("llm", "Service vs bare ONNX Runtime GenAI vs llama.cpp on a forged model: prefill, decode, first token, memory, load, and the bandwidth bound")
        {
            preset, seed, models, threads, promptTokens, decodeTokens, warmup, runs, maxSeconds, bandwidthMib, accuracyLevel, blockSize, markdown, json, engine, child,
        };
        llm.SetAction(async (parse, cancellationToken) =>
        {
            LlmPreset.TryGet(parse.GetValue(preset)!, out var chosen);
            var (defaultPrompt, defaultDecode) = LlmBenchSettings.DefaultLengths(chosen!);
            var settings = new LlmBenchSettings
            {
                Preset = chosen!,
                Seed = parse.GetValue(seed),
                CacheDirectory = parse.GetValue(models)!.FullName,
                Threads = parse.GetValue(threads),
                PromptTokens = parse.GetValue(promptTokens) ?? defaultPrompt,
                DecodeTokens = parse.GetValue(decodeTokens) ?? defaultDecode,
                WarmupRounds = Math.Max(0, parse.GetValue(warmup)),
                MeasuredRounds = parse.GetValue(runs),
                MeasuredTimeBound = TimeSpan.FromSeconds(parse.GetValue(maxSeconds)),
                BandwidthMebibytes = parse.GetValue(bandwidthMib),
                AccuracyLevel = parse.GetValue(accuracyLevel),
                BlockSize = parse.GetValue(blockSize),
            };
            if (settings.PromptTokens < 1 || settings.DecodeTokens < 2 || settings.TotalTokens > settings.Preset.ContextLength)
            {
                await Console.Error.WriteLineAsync($"Prompt ({settings.PromptTokens}) and decode ({settings.DecodeTokens}, at least 2) tokens must fit the {settings.Preset.ContextLength}-token context of {settings.Preset.Name}.").ConfigureAwait(false);
                return 2;
            }

            if (parse.GetValue(child))
            {
                if (parse.GetValue(engine) is not { } name)
                {
                    await Console.Error.WriteLineAsync("--child needs --engine").ConfigureAwait(false);
                    return 2;
                }

                await EngineChild.RunAsync(settings, LlmEngineKindNames.Parse(name), Console.In, Console.Out, Console.Error).ConfigureAwait(false);
                return 0;
            }

            var console = AnsiConsole.Console;
            console.Profile.Width = Math.Max(console.Profile.Width, MinimumTableWidth);
            var report = await LlmBenchmark.RunAsync(settings, "appliance-bench " + string.Join(' ', args), console, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(markdown) is { } markdownFile)
            {
                await File.WriteAllTextAsync(markdownFile.FullName, LlmReportWriter.Markdown(report), cancellationToken).ConfigureAwait(false);
            }

            if (parse.GetValue(json) is { } jsonFile)
            {
                await File.WriteAllTextAsync(jsonFile.FullName, LlmBenchmark.ToJson(report), cancellationToken).ConfigureAwait(false);
            }

            return 0;
        });

        return new RootCommand("Appliance benchmarks") { llm, SpeechCommand.Build(args, models), Voice.VoiceCommand.Build(args, models), SpinCommand.Build(args, models), DecodeProfileCommand.Build(args, models), IdleCommand.Build(args), MeetingsCommand.Build(args, models), Fleet.FleetCommand.Build(args, models), Campaigns.KillCampaignCommand.Build(args), Campaigns.BrokerLossCampaignCommand.Build(args), Campaigns.TornWriteCampaignCommand.Build(args), Campaigns.FullDiskCampaignCommand.Build(args), Campaigns.PartitionCampaignCommand.Build(args), Campaigns.PrivacyCheckCommand.Build(args), Campaigns.SoakCommand.Build(args), Campaigns.OtaPowerCutCampaignCommand.Build(args) };
    }

    internal static Option<int> Positive(string name, string description, int defaultValue) => Bounded(name, description, defaultValue, 1, int.MaxValue);

    /// <summary><c>--block-size</c>: input features per scale of the forged ONNX models' int4 tensors (<see cref="LlmForgeOptions.MatMulBlockSize"/>).</summary>
    internal static Option<int> BlockSize()
    {
        var option = new Option<int>("--block-size")
        {
            Description = "Input features per scale of the forged ONNX models' int4 tensors: 32 (the GGUF's Q4_0 codes) or a larger power of two (the same weights quantized again; the GGUF keeps 32)",
            DefaultValueFactory = _ => LlmForgeOptions.DefaultMatMulBlockSize,
        };
        option.AcceptOnlyFromAmong([.. LlmForgeOptions.SupportedMatMulBlockSizes.Select(b => b.ToString(CultureInfo.InvariantCulture))]);
        return option;
    }

    internal static Option<int> NonNegative(string name, string description, int defaultValue) => Bounded(name, description, defaultValue, 0, int.MaxValue);

    /// <summary>A share in whole percent, 0 to 100.</summary>
    internal static Option<int> Percent(string name, string description, int defaultValue) => Bounded(name, description, defaultValue, 0, 100);

    private static Option<int> Bounded(string name, string description, int defaultValue, int min, int max)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is var value && (value < min || value > max))
            {
                result.AddError(max == int.MaxValue ? $"{name} must be at least {min}" : $"{name} must be from {min} to {max}");
            }
        });
        return option;
    }

    // The folder holding Appliance.sln, above the working directory or above this program; else the working directory.
    internal static string RepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Appliance.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        return Environment.CurrentDirectory;
    }
}
