using System.Diagnostics;
using Appliance.Benchmarks.Llm;
using Appliance.Inference;
using Appliance.Llm;
using Appliance.ModelForge.Llm;
using Appliance.Profiles;
using Appliance.Voice;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Voice;

/// <summary>
/// What the voice benchmark measured, in milliseconds (medians over the runs unless named otherwise). The pipeline
/// overhead is the median of the paired differences between the whole LLM path and its bare model request.
/// </summary>
internal sealed record VoiceBenchReport(
    string Preset,
    int Threads,
    int Runs,
    int InstructionTokens,
    double TemplateMedianMs,
    double TemplateP95Ms,
    double FirstTokenWithoutReuseMs,
    double FirstTokenWithReuseMs,
    int CachedTokens,
    double ModelRequestMs,
    double LlmPathMs,
    double PipelineOverheadMs)
{
    /// <summary>How many times faster the first token comes with the instructions' key-value cache reused.</summary>
    public double FirstTokenSpeedUp => FirstTokenWithReuseMs > 0 ? FirstTokenWithoutReuseMs / FirstTokenWithReuseMs : 0;
}

/// <summary>
/// The voice benchmark: the TV's command schema on a forged model of the voice model's shapes, in process. It times
/// the template path (tokens, matching, checks) on commands templates take; the voice model's first token for
/// utterances no template takes, with its constant instructions processed each time and with their key-value cache
/// reused; and the whole LLM path against the bare model request it makes, the difference being the pipeline's own
/// overhead.
/// </summary>
internal static class VoiceBenchmark
{
    private static readonly string[] TemplateCommands =
    [
        "turn the volume up to 20", "set the volume to 35", "mute", "go to channel one hundred and five", "switch to HDMI 2",
        "open the Netflix app", "pause the movie", "turn off the TV", "turn the volume down by three", "louder please",
    ];

    private static readonly string[] ModelUtterances =
    [
        "make the picture a bit brighter", "could you put something relaxing on", "i cannot hear anything", "show me the cooking channel",
        "the sound is far too loud for me", "what was that film again", "switch it over to the game console", "go back to what i was watching",
    ];

    public static async Task<VoiceBenchReport> RunAsync(LlmPreset preset, long seed, string cacheDirectory, int threads, int runs, Action<string> progress, CancellationToken cancellationToken)
    {
        var schema = DeviceProfileLoader.Load(Path.Combine(AppContext.BaseDirectory, "device-profiles", "rk3588-tv.json")).Profile!.Commands!;
        var interpreter = new CommandInterpreter(schema, TimeProvider.System);

        progress("voice: the template path");
        var template = new List<double>();
        for (var round = 0; round < Math.Max(runs, 20); round++)
        {
            foreach (var command in TemplateCommands)
            {
                var started = Stopwatch.GetTimestamp();
                var intent = interpreter.Interpret("bench", command, "en");
                template.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (intent.Source != Appliance.Contracts.VoiceIntentSources.Template)
                {
                    throw new InvalidOperationException($"'{command}' did not take the template path: {intent.Reason}");
                }
            }
        }

        template = [.. template.Skip(TemplateCommands.Length)]; // the first round warms up
        // The instructions need room: a preset with a shorter context (tiny) is forged with 2048 under its own name.
        var forged = preset.ContextLength >= 2048 ? preset : preset with { Name = preset.Name + "-2k", ContextLength = 2048 };
        var folder = BenchModelCache.PrepareAsForged(forged, seed, cacheDirectory, progress);
        await using var service = new LlmService(new LlmServiceOptions { Inference = InferenceSettings.Cpu(threads) });
        var loaded = await service.LoadModelAsync(new ModelSpec { Id = "voice", Path = folder, ContextTokens = 2048 }, cancellationToken).ConfigureAwait(false);
        if (loaded.State != LlmModelState.Loaded)
        {
            throw new InvalidOperationException($"the forged {preset.Name} did not load: {loaded.Error}");
        }

        var stage = new VoiceModelStage(new LlmChatClient(service, "voice"), schema);
        var instructions = stage.Instructions;
        var answerSchema = stage.AnswerSchema.GetRawText();
        LlmRequest Request(string utterance, bool reuse) => new()
        {
            ModelId = "voice",
            Messages = [new LlmMessage("system", instructions), new LlmMessage("user", utterance)],
            MaxTokens = VoiceModelStage.MaxAnswerTokens,
            Temperature = 0,
            AnswerJsonSchema = answerSchema,
            PrefixCacheKey = reuse ? VoiceModelStage.ConversationId : null,
        };

        progress("voice: the voice model's first token, without and with the instructions' cache");
        var without = new List<double>();
        var with = new List<double>();
        var cachedTokens = 0;
        await RequestAsync(service, Request(ModelUtterances[0], reuse: true), cancellationToken).ConfigureAwait(false); // fills the cache
        for (var run = 0; run < runs; run++)
        {
            var utterance = ModelUtterances[run % ModelUtterances.Length];
            without.Add((await RequestAsync(service, Request(utterance, reuse: false), cancellationToken).ConfigureAwait(false)).FirstTokenMs);
            var reused = await RequestAsync(service, Request(utterance, reuse: true), cancellationToken).ConfigureAwait(false);
            with.Add(reused.FirstTokenMs);
            cachedTokens = reused.Usage.CachedPromptTokens;
        }

        // Paired: each utterance as a bare model request, then through the whole LLM path, both with the cache and each
        // after a request for another utterance; the difference is what the pipeline adds (the same prompt gives the
        // same answer, greedy, so the same tokens).
        progress("voice: the whole LLM path against its bare model request");
        var requestTimes = new List<double>();
        var path = new List<double>();
        var overhead = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var utterance = ModelUtterances[run % ModelUtterances.Length];
            var bare = (await RequestAsync(service, Request(utterance, reuse: true), cancellationToken).ConfigureAwait(false)).TotalMs;
            // Another utterance in between, so that the path, like the bare request, finds only the instructions cached.
            await RequestAsync(service, Request(ModelUtterances[(run + 1) % ModelUtterances.Length], reuse: true), cancellationToken).ConfigureAwait(false);
            var started = Stopwatch.GetTimestamp();
            await interpreter.InterpretAsync("bench", utterance, "en", stage, cancellationToken).ConfigureAwait(false);
            var whole = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            requestTimes.Add(bare);
            path.Add(whole);
            overhead.Add(whole - bare);
        }

        var prompt = service.CountTokens("voice", instructions) ?? 0;
        return new VoiceBenchReport(preset.Name, threads, runs, prompt, Median(template), Percentile(template, 0.95), Median(without), Median(with), cachedTokens, Median(requestTimes), Median(path), Median(overhead));
    }

    private static async Task<(double FirstTokenMs, double TotalMs, LlmUsage Usage)> RequestAsync(LlmService service, LlmRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        LlmCompleted? completed = null;
        await foreach (var e in service.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
        {
            completed = e as LlmCompleted ?? completed;
            if (e is LlmFailed failed)
            {
                throw new InvalidOperationException($"the voice model failed: {failed.Error}");
            }
        }

        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return (completed!.Usage.TimeToFirstToken?.TotalMilliseconds ?? total, total, completed.Usage);
    }

    private static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double fraction)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(fraction * sorted.Count))];
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    public static IEnumerable<(string Figure, string Value)> Rows(VoiceBenchReport r)
    {
        yield return ("template path: median / p95 (tokens, matching, checks; goal under 10 ms beyond ASR)", Invariant($"{r.TemplateMedianMs:0.000} ms / {r.TemplateP95Ms:0.000} ms"));
        yield return ("voice model instructions (constant prefix)", Invariant($"{r.InstructionTokens} tokens"));
        yield return ("first token, instructions processed each time", Invariant($"{r.FirstTokenWithoutReuseMs:0.0} ms"));
        yield return ("first token, instructions' cache reused", Invariant($"{r.FirstTokenWithReuseMs:0.0} ms ({r.CachedTokens} prompt tokens from the cache)"));
        yield return ("first token speed-up with reuse (goal at least 5x)", Invariant($"{r.FirstTokenSpeedUp:0.0}x"));
        yield return ("model request, reused, to its last token", Invariant($"{r.ModelRequestMs:0.0} ms"));
        yield return ("whole LLM path (interpret, model, parse, check)", Invariant($"{r.LlmPathMs:0.0} ms"));
        yield return ("pipeline overhead beyond model compute (goal under 50 ms)", Invariant($"{r.PipelineOverheadMs:0.0} ms"));
    }
}
