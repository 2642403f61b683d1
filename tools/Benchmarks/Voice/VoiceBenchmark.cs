using System.Diagnostics;
using Appliance.Benchmarks.Llm;
using Appliance.Inference;
using Appliance.Llm;
using Appliance.ModelForge.Llm;
using Appliance.Profiles;
using Appliance.Voice;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Voice;

/// <summary>What the voice benchmark measured (see <see cref="VoiceBenchmark"/>).</summary>
/// <param name="Preset">The voice model's shapes.</param>
/// <param name="Threads">ONNX Runtime intra-op threads.</param>
/// <param name="Runs">Measured utterances per figure.</param>
/// <param name="TemplateMedianMs">The template path's median, in milliseconds.</param>
/// <param name="TemplateP95Ms">Its 95th percentile.</param>
/// <param name="Model">The voice model's figures.</param>
/// <param name="Spoken">The spoken path through the daemon.</param>
internal sealed record VoiceBenchReport(string Preset, int Threads, int Runs, double TemplateMedianMs, double TemplateP95Ms, VoiceModelFigures Model, SpokenPathReport Spoken);

/// <summary>
/// The voice model's figures, in milliseconds (medians over the runs). The pipeline overhead is the median of the
/// paired differences between the whole LLM path and its bare model request.
/// </summary>
internal sealed record VoiceModelFigures(
    int InstructionTokens,
    double FirstTokenWithoutReuseMs,
    double FirstTokenWithReuseMs,
    int CachedTokens,
    double ModelRequestMs,
    double LlmPathMs,
    double PipelineOverheadMs,
    int ShortPrefixTokens,
    double ShortPrefixWithoutReuseMs,
    double ShortPrefixWithReuseMs)
{
    /// <summary>How many times faster the first token comes with the instructions' key-value cache reused.</summary>
    public double FirstTokenSpeedUp => FirstTokenWithReuseMs > 0 ? FirstTokenWithoutReuseMs / FirstTokenWithReuseMs : 0;

    /// <summary>The same for a prefix of about 300 tokens (the goal's size).</summary>
    public double ShortPrefixSpeedUp => ShortPrefixWithReuseMs > 0 ? ShortPrefixWithoutReuseMs / ShortPrefixWithReuseMs : 0;
}

/// <summary>
/// The voice benchmark: the TV's command schema on a forged model of the voice model's shapes, in process. It times
/// the template path (tokens, matching, checks) on commands templates take; the voice model's first token for
/// utterances no template takes, with its constant instructions processed each time and with their key-value cache
/// reused, and the same for the instructions cut to about 300 tokens; the whole LLM path against the bare model request
/// it makes, the difference being the pipeline's own overhead; and, through the daemon, a spoken command from the end
/// of its speech to its intent published (<see cref="SpokenPathBenchmark"/>).
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

    /// <summary>The prefix size the first-token goal names.</summary>
    public const int ShortPrefixGoalTokens = 300;

    public static async Task<VoiceBenchReport> RunAsync(LlmPreset preset, long seed, string cacheDirectory, string workDirectory, int threads, int runs, Action<string> progress, CancellationToken cancellationToken)
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
        var model = await ModelFiguresAsync(folder, schema, interpreter, threads, runs, progress, cancellationToken).ConfigureAwait(false);
        var spoken = await SpokenPathBenchmark.RunAsync(folder, cacheDirectory, workDirectory, threads, runs, progress, cancellationToken).ConfigureAwait(false);
        return new VoiceBenchReport(preset.Name, threads, runs, Median(template), Percentile(template, 0.95), model, spoken);
    }

    /// <summary>The voice model's figures, in process, with the model loaded here alone.</summary>
    private static async Task<VoiceModelFigures> ModelFiguresAsync(string folder, CommandSchema schema, CommandInterpreter interpreter, int threads, int runs, Action<string> progress, CancellationToken cancellationToken)
    {
        await using var service = new LlmService(new LlmServiceOptions { Inference = InferenceSettings.Cpu(threads) });
        var loaded = await service.LoadModelAsync(new ModelSpec { Id = "voice", Path = folder, ContextTokens = 2048 }, cancellationToken).ConfigureAwait(false);
        if (loaded.State != LlmModelState.Loaded)
        {
            throw new InvalidOperationException($"the forged model in {folder} did not load: {loaded.Error}");
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

        // The goal's prefix size: the instructions cut to about 300 tokens, under a cache key of their own.
        progress($"voice: the first token with a prefix of about {ShortPrefixGoalTokens} tokens, without and with its cache");
        var shortPrefix = PrefixOfAbout(service, instructions, ShortPrefixGoalTokens);
        LlmRequest Short(string utterance, bool reuse) => Request(utterance, reuse) with { Messages = [new LlmMessage("system", shortPrefix), new LlmMessage("user", utterance)], PrefixCacheKey = reuse ? "bench-short-prefix" : null };
        await RequestAsync(service, Short(ModelUtterances[0], reuse: true), cancellationToken).ConfigureAwait(false);
        var shortWithout = new List<double>();
        var shortWith = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var utterance = ModelUtterances[run % ModelUtterances.Length];
            shortWithout.Add((await RequestAsync(service, Short(utterance, reuse: false), cancellationToken).ConfigureAwait(false)).FirstTokenMs);
            shortWith.Add((await RequestAsync(service, Short(utterance, reuse: true), cancellationToken).ConfigureAwait(false)).FirstTokenMs);
        }

        var prompt = service.CountTokens("voice", instructions) ?? 0;
        return new VoiceModelFigures(prompt, Median(without), Median(with), cachedTokens, Median(requestTimes), Median(path), Median(overhead),
            service.CountTokens("voice", shortPrefix) ?? 0, Median(shortWithout), Median(shortWith));
    }

    /// <summary>The longest start of <paramref name="text"/> (whole words) that is at most <paramref name="tokens"/> tokens.</summary>
    private static string PrefixOfAbout(LlmService service, string text, int tokens)
    {
        var words = text.Split(' ');
        int low = 1, high = words.Length;
        while (low < high)
        {
            var middle = (low + high + 1) / 2;
            if ((service.CountTokens("voice", string.Join(' ', words[..middle])) ?? int.MaxValue) <= tokens)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return string.Join(' ', words[..low]);
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

    /// <summary>The median of <paramref name="values"/> (the upper one of an even count); 0 for none.</summary>
    internal static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double fraction)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(fraction * sorted.Count))];
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    public static IEnumerable<(string Figure, string Value)> Rows(VoiceBenchReport r)
    {
        yield return ("template path: median / p95 (tokens, matching, checks; goal under 10 ms beyond ASR)", Invariant($"{r.TemplateMedianMs:0.000} ms / {r.TemplateP95Ms:0.000} ms"));
        yield return ("voice model instructions (constant prefix)", Invariant($"{r.Model.InstructionTokens} tokens"));
        yield return ("first token, instructions processed each time", Invariant($"{r.Model.FirstTokenWithoutReuseMs:0.0} ms"));
        yield return ("first token, instructions' cache reused", Invariant($"{r.Model.FirstTokenWithReuseMs:0.0} ms ({r.Model.CachedTokens} prompt tokens from the cache)"));
        yield return ("first token speed-up with reuse (goal at least 5x)", Invariant($"{r.Model.FirstTokenSpeedUp:0.0}x"));
        yield return ("model request, reused, to its last token", Invariant($"{r.Model.ModelRequestMs:0.0} ms"));
        yield return ("whole LLM path (interpret, model, parse, check)", Invariant($"{r.Model.LlmPathMs:0.0} ms"));
        yield return ("pipeline overhead beyond model compute (goal under 50 ms)", Invariant($"{r.Model.PipelineOverheadMs:0.0} ms"));
        yield return (Invariant($"first token, a {r.Model.ShortPrefixTokens}-token prefix processed each time / its cache reused"), Invariant($"{r.Model.ShortPrefixWithoutReuseMs:0.0} ms / {r.Model.ShortPrefixWithReuseMs:0.0} ms"));
        yield return (Invariant($"first token speed-up with reuse, {r.Model.ShortPrefixTokens}-token prefix (goal at least 5x)"), Invariant($"{r.Model.ShortPrefixSpeedUp:0.0}x"));
        var s = r.Spoken;
        yield return (Invariant($"spoken command ({s.ClipSeconds:0.0} s clip): transcript ready after"), Invariant($"{s.TranscriptMs:0.0} ms"));
        yield return (Invariant($"end of speech to intent published, template path: the matcher alone, no voice model ({s.TrailingSilenceMs} ms trailing silence + {s.TemplatePathMs:0.0} ms)"), Invariant($"{s.TemplateEndOfSpeechMs:0.0} ms"));
        yield return (Invariant($"end of speech to intent published, LLM path ({s.TrailingSilenceMs} ms trailing silence + {s.LlmPathMs:0.0} ms)"), Invariant($"{s.LlmEndOfSpeechMs:0.0} ms"));
    }
}
