using Appliance.Profiles;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Speech.Whisper;

/// <summary>
/// Greedy and beam-search decoding of one 30 s window with Whisper's logit rules: <c>suppress_tokens</c> at every
/// step, <c>begin_suppress_tokens</c> at the first generated position, and with timestamps the rules of the reference
/// implementation (no <c>&lt;|notimestamps|&gt;</c>; a timestamp first, at most <c>max_initial_timestamp_index</c>;
/// timestamps in pairs and never decreasing; text suppressed when the timestamps' total probability beats every text
/// token). The caller checks cancellation through <paramref name="beforeStep"/>, called before every decoder step.
/// A step allocates no array of the vocabulary's size: the logits of every step go into the one array of
/// <paramref name="buffers"/> (the logits are used up before the next step), and log-probabilities are read from the
/// logits and their log-normalizer. Not thread-safe: one decoding per window, the buffers its own while it runs.
/// </summary>
internal sealed class WhisperDecoding(WhisperModel model, RunOptions runOptions, Action beforeStep, WindowBuffers buffers)
{
    private readonly WhisperTokenizer _tokenizer = model.Tokenizer;
    private readonly WhisperGenerationConfig _config = model.Generation;
    private static readonly Comparer<(float Value, int Index)> s_worseFirst = Comparer<(float Value, int Index)>.Create((a, b) => a.Value != b.Value ? a.Value.CompareTo(b.Value) : b.Index.CompareTo(a.Index));

    /// <summary>
    /// The language token with the highest logit after <c>&lt;|startoftranscript|&gt;</c>, among
    /// <paramref name="allowed"/> when given (a profile's language allow-list), with its probability among those.
    /// </summary>
    public (string Language, float Probability) DetectLanguage(OrtValue encoderHidden, IReadOnlyList<string>? allowed = null)
    {
        KeyValueCache? cross = null;
        beforeStep();
        var (logits, cache) = Step([_tokenizer.StartOfTranscript], encoderHidden, null, ref cross);
        cache.Dispose();
        cross?.Dispose();
        var languages = _tokenizer.LanguageIds.Where(kv => allowed is null || allowed.Contains(kv.Key, StringComparer.Ordinal)).ToList();
        var max = languages.Max(kv => logits[kv.Value]);
        var sum = languages.Sum(kv => Math.Exp(logits[kv.Value] - max));
        var best = languages.MaxBy(kv => logits[kv.Value]);
        return (best.Key, (float)(1 / sum));
    }

    /// <summary>
    /// Decodes one window with the hallucination guards of the reference decoder: greedily (or with beam search) at
    /// temperature 0, then, while the text is too repetitive (compression ratio), too unlikely (average
    /// log-probability) or loops, again at each higher temperature with the best of several samples. A window whose
    /// no-speech probability is above its threshold is not retried, and yields no text unless its average
    /// log-probability clears the log-probability threshold. <paramref name="sotIndex"/> is the position of
    /// <c>&lt;|startoftranscript|&gt;</c> in <paramref name="prompt"/> (after any previous-text prompt).
    /// </summary>
    public WindowDecode Decode(OrtValue encoderHidden, int[] prompt, int sotIndex, bool timestamps, int beamSize, int maxNewTokens, TranscriptionSettings guards, int seed)
    {
        var limit = Math.Min(maxNewTokens, _config.MaxTargetPositions - prompt.Length);
        var random = new Random(seed);
        Attempt? attempt = null;
        var temperature = 0.0;
        var attempts = 0;
        foreach (var t in guards.Temperatures.Count > 0 ? guards.Temperatures : [0.0])
        {
            temperature = t;
            attempts++;
            attempt = t <= 0
                ? beamSize <= 1 ? Sample(encoderHidden, prompt, sotIndex, timestamps, limit, 0, null, guards.RepetitionLimit) : Beam(encoderHidden, prompt, sotIndex, timestamps, beamSize, limit, guards.RepetitionLimit)
                : Enumerable.Range(0, Math.Max(1, guards.BestOf))
                    .Select(_ => Sample(encoderHidden, prompt, sotIndex, timestamps, limit, t, random, guards.RepetitionLimit))
                    .MaxBy(a => a.Rank)!;
            // As the reference: silence (likely no speech, and an unlikely text) is not retried; it is skipped below.
            var silent = guards.NoSpeechThreshold is { } noSpeech && attempt.NoSpeechProbability > noSpeech
                && guards.LogProbThreshold is { } floor && attempt.AverageLogProbability < floor;
            var retry = !silent && (attempt.Looped
                || (guards.CompressionRatioThreshold is { } ratio && CompressionRatio(attempt.Tokens) > ratio)
                || (guards.LogProbThreshold is { } logProb && attempt.AverageLogProbability < logProb));
            if (!retry)
            {
                break;
            }
        }

        var final = attempt!;
        var verdict = final.Looped ? WindowVerdict.Looped : WindowVerdict.Text;
        if (guards.NoSpeechThreshold is { } threshold && final.NoSpeechProbability > threshold
            && !(guards.LogProbThreshold is { } logProbFloor && final.AverageLogProbability > logProbFloor))
        {
            verdict = WindowVerdict.NoSpeech;
        }

        return new WindowDecode(
            verdict == WindowVerdict.NoSpeech ? [] : final.Tokens,
            temperature,
            attempts - 1,
            final.AverageLogProbability,
            CompressionRatio(final.Tokens),
            final.NoSpeechProbability,
            verdict);
    }

    /// <summary>
    /// The text's UTF-8 length over its zlib-compressed length at level 6, the reference decoder's measure of
    /// repetitiveness (Python's <c>zlib.compress</c> default level; .NET's zlib-ng may come out a few bytes apart, which
    /// moves a ratio near the threshold by a hundredth or so); 0 for no text.
    /// </summary>
    public double CompressionRatio(IReadOnlyList<int> tokens)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(_tokenizer.Decode(tokens));
        if (bytes.Length == 0)
        {
            return 0;
        }

        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(bytes);
        }

        return bytes.Length / (double)compressed.Length;
    }

    /// <summary>
    /// One greedy (<paramref name="temperature"/> 0) or sampled decode. The log-probabilities are those of the
    /// filtered logits at temperature 1, end-of-text included, as the reference decoder counts them.
    /// </summary>
    private Attempt Sample(OrtValue encoderHidden, int[] prompt, int sotIndex, bool timestamps, int limit, double temperature, Random? random, int repetitionLimit)
    {
        var generated = new List<int>();
        var logProbabilities = new List<double>();
        var noSpeech = 0.0;
        var looped = false;
        KeyValueCache? cross = null;
        KeyValueCache? cache = null;
        var sotLogits = buffers.NoSpeechLogits ??= new float[_tokenizer.VocabularySize];
        try
        {
            long[] input = [.. prompt.Select(t => (long)t)];
            while (generated.Count < limit)
            {
                beforeStep();
                var first = cache is null;
                var (logits, next) = Step(input, encoderHidden, cache, ref cross, first ? sotLogits : null, sotIndex);
                cache?.Dispose();
                cache = next;
                if (first)
                {
                    noSpeech = NoSpeechProbability(sotLogits);
                }

                Process(logits, generated, timestamps);
                var token = temperature <= 0 || random is null ? ArgMax(logits) : Draw(logits, temperature, random);
                logProbabilities.Add(logits[token] - LogNormalizer(logits));
                if (token == _tokenizer.EndOfText)
                {
                    break;
                }

                generated.Add(token);
                if (RepetitionDetector.LoopEnd(generated, repetitionLimit) is { } keep)
                {
                    // The repeats are dropped with their probabilities; the first occurrence stays.
                    generated.RemoveRange(keep, generated.Count - keep);
                    logProbabilities.RemoveRange(keep, logProbabilities.Count - keep);
                    looped = true;
                    break;
                }

                input = [token];
            }

            return new Attempt(generated, logProbabilities.Sum(), noSpeech, looped);
        }
        finally
        {
            cache?.Dispose();
            cross?.Dispose();
        }
    }

    /// <summary>One decoder step, its logits in this decoding's buffer.</summary>
    private (float[] Logits, KeyValueCache Cache) Step(long[] input, OrtValue encoderHidden, KeyValueCache? past, ref KeyValueCache? cross, float[]? positionLogits = null, int position = 0)
    {
        var step = model.Step(input, encoderHidden, past, ref cross, runOptions, buffers.Logits, positionLogits, position);
        buffers.Logits = step.Logits;
        return step;
    }

    private double NoSpeechProbability(float[] sotLogits) =>
        _tokenizer.NoSpeech is { } id && id < sotLogits.Length && !float.IsNegativeInfinity(sotLogits[id]) ? Math.Exp(sotLogits[id] - LogNormalizer(sotLogits)) : 0;

    /// <summary>Draws a token from softmax(logits / temperature); suppressed tokens (−∞) are never drawn.</summary>
    private static int Draw(float[] logits, double temperature, Random random)
    {
        var max = logits.Max();
        double Weight(float logit) => float.IsNegativeInfinity(logit) ? 0 : Math.Exp((logit - max) / temperature);
        var total = 0.0;
        foreach (var logit in logits)
        {
            total += Weight(logit);
        }

        var pick = random.NextDouble() * total;
        for (var i = 0; i < logits.Length; i++)
        {
            var weight = Weight(logits[i]);
            pick -= weight;
            if (pick <= 0 && weight > 0)
            {
                return i;
            }
        }

        return ArgMax(logits);
    }

    private Attempt Beam(OrtValue encoderHidden, int[] prompt, int sotIndex, bool timestamps, int beamSize, int limit, int repetitionLimit)
    {
        var live = new List<Hypothesis> { new([], 0, null) };
        var sotLogits = buffers.NoSpeechLogits ??= new float[_tokenizer.VocabularySize];
        var noSpeech = 0.0;
        var finished = new List<(List<int> Tokens, double Score)>();
        var fresh = new List<KeyValueCache>();
        KeyValueCache? cross = null;
        try
        {
            while (live.Count > 0 && finished.Count < beamSize)
            {
                var candidates = new List<(Hypothesis Parent, int Token, double Score, KeyValueCache Cache)>();
                fresh.Clear();
                foreach (var hypothesis in live)
                {
                    beforeStep();
                    var first = hypothesis.Cache is null;
                    long[] input = first ? [.. prompt.Select(t => (long)t)] : [hypothesis.Tokens[^1]];
                    var (logits, next) = Step(input, encoderHidden, hypothesis.Cache, ref cross, first ? sotLogits : null, sotIndex);
                    fresh.Add(next);
                    if (first)
                    {
                        noSpeech = NoSpeechProbability(sotLogits);
                    }

                    Process(logits, hypothesis.Tokens, timestamps);
                    var normalizer = LogNormalizer(logits);
                    foreach (var token in TopK(logits, 2 * beamSize))
                    {
                        candidates.Add((hypothesis, token, hypothesis.Score + (logits[token] - normalizer), next));
                    }
                }

                foreach (var used in live.Select(h => h.Cache).Distinct())
                {
                    used?.Dispose();
                }

                live = [];

                var nextLive = new List<Hypothesis>();
                foreach (var (parent, token, score, cache) in candidates.OrderByDescending(c => c.Score))
                {
                    if (token == _tokenizer.EndOfText || parent.Tokens.Count + 1 >= limit)
                    {
                        var tokens = token == _tokenizer.EndOfText ? parent.Tokens : [.. parent.Tokens, token];
                        finished.Add((tokens, score));
                    }
                    else
                    {
                        nextLive.Add(new Hypothesis([.. parent.Tokens, token], score, cache));
                    }

                    if (nextLive.Count == beamSize || finished.Count >= beamSize)
                    {
                        break;
                    }
                }

                // Caches no surviving hypothesis points at are released now; the others live one more step.
                var kept = nextLive.Select(h => h.Cache).ToHashSet();
                fresh.Where(c => !kept.Contains(c)).ToList().ForEach(c => c.Dispose());
                fresh.Clear();
                live = nextLive;
            }

            // Ranked by log-probability over length (the reference decoder's default, no length penalty).
            var (best, sum) = finished.Count > 0
                ? finished.MaxBy(f => f.Score / Math.Max(1, f.Tokens.Count))
                : live.Select(h => (h.Tokens, h.Score)).MaxBy(h => h.Score / Math.Max(1, h.Tokens.Count));
            var chosen = best ?? [];
            if (RepetitionDetector.LoopEnd(chosen, repetitionLimit) is { } keep)
            {
                // Beam search keeps no per-token probabilities: a cut loop keeps the average of the whole decode.
                return new Attempt(chosen[..keep], sum * (keep + 1) / (chosen.Count + 1), noSpeech, Looped: true);
            }

            return new Attempt(chosen, sum, noSpeech, Looped: false);
        }
        finally
        {
            // On cancellation mid-step both the caches in use and those just made are released.
            foreach (var cache in live.Select(h => h.Cache).Concat(fresh).Distinct())
            {
                cache?.Dispose();
            }

            cross?.Dispose();
        }
    }

    private void Process(float[] logits, List<int> generated, bool timestamps)
    {
        foreach (var id in _config.SuppressTokens)
        {
            Suppress(logits, id);
        }

        if (generated.Count == 0)
        {
            foreach (var id in _config.BeginSuppressTokens)
            {
                Suppress(logits, id);
            }
        }

        if (timestamps)
        {
            ApplyTimestampRules(logits, generated);
        }
    }

    private void ApplyTimestampRules(float[] logits, List<int> generated)
    {
        var begin = _tokenizer.TimestampBegin;
        Suppress(logits, _tokenizer.NoTimestamps);
        if (generated.Count == 0)
        {
            logits.AsSpan(0, begin).Fill(float.NegativeInfinity);
            var lastAllowed = begin + _config.MaxInitialTimestampIndex;
            if (lastAllowed + 1 < logits.Length)
            {
                logits.AsSpan(lastAllowed + 1).Fill(float.NegativeInfinity);
            }

            return;
        }

        var lastWasTimestamp = generated[^1] >= begin;
        var penultimateWasTimestamp = generated.Count < 2 || generated[^2] >= begin;
        if (lastWasTimestamp)
        {
            if (penultimateWasTimestamp)
            {
                logits.AsSpan(begin).Fill(float.NegativeInfinity);
            }
            else
            {
                logits.AsSpan(0, _tokenizer.EndOfText).Fill(float.NegativeInfinity);
            }
        }

        // Timestamps never go back; after a closing timestamp the next one must move forward.
        var lastTimestamp = generated.LastOrDefault(t => t >= begin, -1);
        if (lastTimestamp >= 0)
        {
            var floor = lastWasTimestamp && !penultimateWasTimestamp ? lastTimestamp : lastTimestamp + 1;
            logits.AsSpan(begin, Math.Min(floor, logits.Length) - begin).Fill(float.NegativeInfinity);
        }

        // Both sides of the reference's comparison of log-probabilities share the log-normalizer, so the logits compare
        // alike (up to the rounding of the subtraction).
        var timestampMass = LogSumExp(logits.AsSpan(begin));
        var bestText = float.NegativeInfinity;
        foreach (var value in logits.AsSpan(0, begin))
        {
            bestText = Math.Max(bestText, value);
        }

        if (timestampMass > bestText)
        {
            logits.AsSpan(0, begin).Fill(float.NegativeInfinity);
        }
    }

    private static void Suppress(float[] logits, int id)
    {
        if (id >= 0 && id < logits.Length)
        {
            logits[id] = float.NegativeInfinity;
        }
    }

    private static int ArgMax(float[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>The indices of the <paramref name="k"/> highest finite values, highest first (the lower index first among equals).</summary>
    private static List<int> TopK(float[] values, int k)
    {
        // A heap of the k best so far with the worst on top (of equal values, the higher index is the worse): one
        // pass, nothing of the vocabulary's size allocated.
        var best = new PriorityQueue<int, (float Value, int Index)>(k + 1, s_worseFirst);
        for (var i = 0; i < values.Length; i++)
        {
            if (float.IsNegativeInfinity(values[i]) || (best.Count == k && best.TryPeek(out _, out var worst) && s_worseFirst.Compare((values[i], i), worst) < 0))
            {
                continue;
            }

            best.Enqueue(i, (values[i], i));
            if (best.Count > k)
            {
                best.Dequeue();
            }
        }

        var top = new List<int>(best.Count);
        while (best.TryDequeue(out var index, out _))
        {
            top.Add(index);
        }

        top.Reverse();
        return top;
    }

    /// <summary>log Σ exp(logits): a token's log-probability is its logit minus this.</summary>
    private static float LogNormalizer(float[] logits)
    {
        var max = logits.Max();
        double sum = 0;
        foreach (var value in logits)
        {
            sum += Math.Exp(value - max);
        }

        return max + (float)Math.Log(sum);
    }

    private static float LogSumExp(ReadOnlySpan<float> values)
    {
        var max = float.NegativeInfinity;
        foreach (var v in values)
        {
            max = Math.Max(max, v);
        }

        if (float.IsNegativeInfinity(max))
        {
            return max;
        }

        double sum = 0;
        foreach (var v in values)
        {
            sum += Math.Exp(v - max);
        }

        return max + (float)Math.Log(sum);
    }

    private sealed record Hypothesis(List<int> Tokens, double Score, KeyValueCache? Cache);

    /// <summary>
    /// One decode of a window: its tokens (end-of-text left out), the sum of the log-probabilities of the tokens kept
    /// and of the end-of-text, the no-speech probability, and whether it looped.
    /// </summary>
    private sealed record Attempt(List<int> Tokens, double SumLogProbability, double NoSpeechProbability, bool Looped)
    {
        /// <summary>The reference decoder's average: the sum over the tokens plus one (for the end-of-text).</summary>
        public double AverageLogProbability => SumLogProbability / (Tokens.Count + 1);

        /// <summary>How the reference ranks candidates (best of several samples): the sum over the token count.</summary>
        public double Rank => SumLogProbability / Math.Max(1, Tokens.Count);
    }
}

/// <summary>What the guards made of a window.</summary>
public enum WindowVerdict
{
    /// <summary>The text stands.</summary>
    Text,

    /// <summary>The model judged the window to hold no speech: no text.</summary>
    NoSpeech,

    /// <summary>Every temperature looped; the text keeps the repeated n-gram once.</summary>
    Looped,
}

/// <summary>One window after the guards: the tokens kept and the measures the guards judged them by.</summary>
/// <param name="Tokens">Generated ids kept (empty for <see cref="WindowVerdict.NoSpeech"/>).</param>
/// <param name="Temperature">The temperature of the decode kept.</param>
/// <param name="Fallbacks">How many temperatures were tried and rejected before it.</param>
/// <param name="AverageLogProbability">Sum of the chosen tokens' log-probabilities, end-of-text included, over their count plus one.</param>
/// <param name="CompressionRatio">The text's UTF-8 length over its zlib-compressed length.</param>
/// <param name="NoSpeechProbability">The no-speech token's probability after <c>&lt;|startoftranscript|&gt;</c>.</param>
/// <param name="Verdict">What the guards decided.</param>
internal sealed record WindowDecode(IReadOnlyList<int> Tokens, double Temperature, int Fallbacks, double AverageLogProbability, double CompressionRatio, double NoSpeechProbability, WindowVerdict Verdict);

/// <summary>
/// Finds a decoding loop: the generated ids end in an n-gram of 1 to <see cref="MaxPeriod"/> tokens repeated
/// <c>limit</c> times in a row, over at least <see cref="MinLoopTokens"/> tokens (so a short "no, no, no" is speech,
/// not a loop).
/// </summary>
internal static class RepetitionDetector
{
    /// <summary>The longest n-gram looked for, in tokens.</summary>
    public const int MaxPeriod = 16;

    /// <summary>The fewest tokens a loop covers.</summary>
    public const int MinLoopTokens = 8;

    /// <summary>
    /// The number of ids to keep (up to the end of the n-gram's first occurrence in the loop) when
    /// <paramref name="tokens"/> end in a loop; null when they do not, or when <paramref name="limit"/> is 0 (off).
    /// </summary>
    public static int? LoopEnd(IReadOnlyList<int> tokens, int limit)
    {
        if (limit <= 0)
        {
            return null;
        }

        for (var period = 1; period <= MaxPeriod; period++)
        {
            var repeats = Math.Max(limit, (MinLoopTokens + period - 1) / period);
            var span = period * repeats;
            if (span > tokens.Count)
            {
                continue;
            }

            var start = tokens.Count - span;
            var loop = true;
            for (var i = start + period; i < tokens.Count && loop; i++)
            {
                loop = tokens[i] == tokens[i - period];
            }

            if (loop)
            {
                return start + period;
            }
        }

        return null;
    }
}

/// <summary>
/// The arrays one window's work writes into: its features and, in <see cref="WhisperDecoding"/>, arrays of the
/// vocabulary's size. Kept from one window to the next so that a window allocates none. Owned by one window at a time.
/// </summary>
internal sealed class WindowBuffers
{
    /// <summary>The window's log-mel features, [mel × 3000].</summary>
    public float[]? Features { get; set; }

    /// <summary>The logits of the last decoder step (the graph's vocabulary size).</summary>
    public float[]? Logits { get; set; }

    /// <summary>The logits at <c>&lt;|startoftranscript|&gt;</c>, read for the no-speech probability (the tokenizer's vocabulary size).</summary>
    public float[]? NoSpeechLogits { get; set; }
}
