using System.Diagnostics;
using System.Globalization;
using Appliance.Benchmarks.Llm.Engines;
using Appliance.Benchmarks.Speech;
using Appliance.Inference;
using Appliance.Llm;
using Appliance.ModelForge.Llm;
using Appliance.Profiles;
using Appliance.Speech.Whisper;

namespace Appliance.Benchmarks.Llm;

/// <summary>What one spin policy gave: decode speed, processor time spent around pauses, and Whisper's slowdown.</summary>
/// <param name="Policy">The LLM sessions' spin policy (speech never spins).</param>
/// <param name="PromptTokens">Prompt length of the decode runs.</param>
/// <param name="DecodeTokens">Tokens generated per decode run.</param>
/// <param name="DecodeTokensPerSecond">The service's decode speed, median of the rounds.</param>
/// <param name="VoluntarySwitchesPerToken">
/// Voluntary context switches of this process's threads (a thread blocking: an idle ONNX Runtime worker going to
/// sleep on its futex) per generated token, over the measured rounds, their prompts included.
/// </param>
/// <param name="InvoluntarySwitchesPerToken">Involuntary context switches (the scheduler taking the core) per generated token, over the same rounds.</param>
/// <param name="SystemCpuPerToken">Kernel processor time per generated token over the same rounds (futex waits and wakes among it).</param>
/// <param name="PausedTokens">Tokens the paused loop read.</param>
/// <param name="PausedWall">Wall time of a bare GenAI loop that pauses after each token.</param>
/// <param name="PausedCpu">Processor time the process used meanwhile.</param>
/// <param name="ClipSeconds">Length of the noise clip Whisper transcribes.</param>
/// <param name="WhisperAlone">Whisper's time for the clip with nothing else running.</param>
/// <param name="WhisperBesideLlm">Whisper's time for the same clip while the service generates without pause.</param>
/// <param name="LlmTokensBesideWhisper">Tokens the service completed per second meanwhile.</param>
internal sealed record SpinResult(
    SpinPolicy Policy,
    int PromptTokens,
    int DecodeTokens,
    double DecodeTokensPerSecond,
    double VoluntarySwitchesPerToken,
    double InvoluntarySwitchesPerToken,
    TimeSpan SystemCpuPerToken,
    int PausedTokens,
    TimeSpan PausedWall,
    TimeSpan PausedCpu,
    int ClipSeconds,
    TimeSpan WhisperAlone,
    TimeSpan WhisperBesideLlm,
    double LlmTokensBesideWhisper);

/// <summary>
/// <c>appliance-bench spin</c>: the LLM service under each <see cref="SpinPolicy"/> in turn, in this process, on the
/// forged model: decode speed; processor time while a reader pauses between tokens; and a Whisper transcription
/// beside a generating LLM, which shows whether the LLM's threads take the cores speech needs.
/// </summary>
internal static class SpinBenchmark
{
    public const int PausedTokens = 64;
    public static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(10);
    public const int DefaultClipSeconds = 60;

    public static async Task<IReadOnlyList<SpinResult>> RunAsync(LlmPreset preset, string cacheDirectory, int threads, int rounds, int clipSeconds, Action<string> progress, CancellationToken cancellationToken)
    {
        var (promptTokens, decodeTokens) = LlmBenchSettings.DefaultLengths(preset);
        var settings = new LlmBenchSettings { Preset = preset, CacheDirectory = cacheDirectory, PromptTokens = promptTokens, DecodeTokens = decodeTokens, Threads = threads };
        BenchModelCache.PrepareInt4Embedding(settings, progress);
        var llmFolder = settings.Int4EmbeddingModelDirectory;
        var whisperFolder = SpeechBench.ForgedWhisperBase(cacheDirectory, 42, progress, Meetings.SummarySettings.EndOfTextBiasDefault);
        var clip = NoiseClip(clipSeconds);
        var results = new List<SpinResult>();
        foreach (var policy in new[] { SpinPolicy.Never, SpinPolicy.WithinRun, SpinPolicy.Always })
        {
            var inference = InferenceSettings.Cpu(threads) with { Spinning = policy };
            progress($"{policy}: decoding");
            await using var service = new LlmService(new LlmServiceOptions { Inference = inference });
            var status = await service.LoadModelAsync(new ModelSpec { Id = "bench", Path = llmFolder, ContextTokens = settings.TotalTokens }, cancellationToken).ConfigureAwait(false);
            if (status.State != LlmModelState.Loaded)
            {
                throw new InvalidOperationException($"the service did not load {llmFolder}: {status.Error?.Message}");
            }

            await DecodeAsync(service, settings.PromptIds(), settings.DecodeTokens, cancellationToken).ConfigureAwait(false); // warm-up
            var decode = new List<double>();
            var generatedTokens = 0;
            var switchesBefore = ProcessFigures.ContextSwitches(Environment.ProcessId);
            var systemBefore = ProcessFigures.SystemCpuTicks(Environment.ProcessId);
            for (var round = 0; round < rounds; round++)
            {
                var (tokens, speed) = await DecodeAsync(service, settings.PromptIds(), settings.DecodeTokens, cancellationToken).ConfigureAwait(false);
                decode.Add(speed);
                generatedTokens += tokens;
            }

            var switchesAfter = ProcessFigures.ContextSwitches(Environment.ProcessId);
            var systemPerToken = TimeSpan.FromSeconds((ProcessFigures.SystemCpuTicks(Environment.ProcessId) - systemBefore) / ProcessFigures.TicksPerSecond / generatedTokens);

            progress($"{policy}: a bare loop pausing {Pause.TotalMilliseconds:F0} ms after each token");
            (int Tokens, TimeSpan Wall, TimeSpan Cpu) paused;
            await using (var bare = BareGenAiEngine.Load(llmFolder, threads, settings.TotalTokens, inference.SessionConfigEntries()))
            {
                paused = bare.ReadWithPauses(settings.PromptIds(), PausedTokens, Pause);
            }


            progress($"{policy}: Whisper alone, then beside the generating LLM");
            using var whisper = WhisperTranscriber.Open(whisperFolder, InferenceSettings.Cpu(threads)).Value
                ?? throw new InvalidOperationException($"Whisper did not load from {whisperFolder}");
            await whisper.TranscribeAsync(clip, cancellationToken: cancellationToken).ConfigureAwait(false); // warm-up
            var alone = await TimeAsync(() => whisper.TranscribeAsync(clip, cancellationToken: cancellationToken)).ConfigureAwait(false);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            long generated = 0;
            var generating = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var (tokens, _) = await DecodeAsync(service, settings.PromptIds()[..Math.Min(64, settings.PromptTokens)], 24, CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Add(ref generated, tokens);
                }
            }, CancellationToken.None);
            TimeSpan beside;
            long besideTokens;
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                var before = Interlocked.Read(ref generated);
                beside = await TimeAsync(() => whisper.TranscribeAsync(clip, cancellationToken: cancellationToken)).ConfigureAwait(false);
                besideTokens = Interlocked.Read(ref generated) - before;
            }
            finally
            {
                await stop.CancelAsync().ConfigureAwait(false);
                await generating.ConfigureAwait(false); // before the service is disposed
            }

            results.Add(new SpinResult(
                policy,
                settings.PromptTokens,
                settings.DecodeTokens,
                Voice.VoiceBenchmark.Median(decode),
                (double)(switchesAfter.Voluntary - switchesBefore.Voluntary) / generatedTokens,
                (double)(switchesAfter.Involuntary - switchesBefore.Involuntary) / generatedTokens,
                systemPerToken,
                paused.Tokens,
                paused.Wall,
                paused.Cpu,
                clipSeconds,
                alone,
                beside,
                besideTokens / beside.TotalSeconds));
        }

        return results;
    }

    public static IEnumerable<(string Figure, string Value)> Rows(IReadOnlyList<SpinResult> results)
    {
        var names = string.Join(" / ", results.Select(r => r.Policy));
        var first = results[0];
        yield return (Invariant($"service decode, {first.PromptTokens}-token prompt, {first.DecodeTokens} tokens (tok/s): {names}"), string.Join(" / ", results.Select(r => Invariant($"{r.DecodeTokensPerSecond:F2}"))));
        yield return (Invariant($"context switches per generated token in those decodes, voluntary (involuntary): {names}"), string.Join(" / ", results.Select(r => Invariant($"{r.VoluntarySwitchesPerToken:F0} ({r.InvoluntarySwitchesPerToken:F1})"))));
        yield return (Invariant($"kernel processor time per generated token in those decodes: {names}"), string.Join(" / ", results.Select(r => Invariant($"{r.SystemCpuPerToken.TotalMilliseconds:F2} ms"))));
        yield return (Invariant($"processor time for {first.PausedTokens} tokens read with {Pause.TotalMilliseconds:F0} ms pauses (wall): {names}"), string.Join(" / ", results.Select(r => Invariant($"{r.PausedCpu.TotalMilliseconds:F0} ms ({r.PausedWall.TotalMilliseconds:F0})"))));
        yield return (Invariant($"Whisper on {first.ClipSeconds} s alone / beside the generating LLM: {names}"), string.Join(" / ", results.Select(r => Invariant($"{r.WhisperAlone.TotalSeconds:F1} → {r.WhisperBesideLlm.TotalSeconds:F1} s ({r.WhisperBesideLlm / r.WhisperAlone:F2}×)"))));
        yield return (Invariant($"LLM tokens/s while Whisper ran beside it: {names}"), string.Join(" / ", results.Select(r => Invariant($"{r.LlmTokensBesideWhisper:F1}"))));
    }

    // Generated tokens and decode tokens/s of one request.
    private static async Task<(int Tokens, double DecodeTokensPerSecond)> DecodeAsync(LlmService service, int[] prompt, int tokens, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        LlmCompleted? completed = null;
        await foreach (var e in service.GenerateAsync(new LlmRequest { ModelId = "bench", PromptTokenIds = prompt, MaxTokens = tokens, Temperature = 0 }, cancellationToken).ConfigureAwait(false))
        {
            completed = e as LlmCompleted ?? completed;
            if (e is LlmFailed failed)
            {
                throw new InvalidOperationException($"the service failed the request: {failed.Error.Message}");
            }
        }

        var total = Stopwatch.GetElapsedTime(start);
        if (completed is not { Usage: { TimeToFirstToken: { } first, CompletionTokens: > 1 and var count } })
        {
            throw new InvalidOperationException("the service ended a request without completing it with more than one token");
        }

        return (count, (count - 1) / (total - first).TotalSeconds);
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> work)
    {
        var start = Stopwatch.GetTimestamp();
        await work().ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(start);
    }

    // Quiet noise, the same every run: the forged Whisper decodes it as it would speech.
    private static float[] NoiseClip(int seconds)
    {
        var random = new Random(1);
        var clip = new float[16_000 * seconds];
        for (var i = 0; i < clip.Length; i++)
        {
            clip[i] = (float)(random.NextDouble() - 0.5) * 0.2f;
        }

        return clip;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
