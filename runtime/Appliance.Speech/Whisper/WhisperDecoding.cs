using Microsoft.ML.OnnxRuntime;

namespace Appliance.Speech.Whisper;

/// <summary>
/// Greedy and beam-search decoding of one 30 s window with Whisper's logit rules: <c>suppress_tokens</c> at every
/// step, <c>begin_suppress_tokens</c> at the first generated position, and with timestamps the rules of the reference
/// implementation (no <c>&lt;|notimestamps|&gt;</c>; a timestamp first, at most <c>max_initial_timestamp_index</c>;
/// timestamps in pairs and never decreasing; text suppressed when the timestamps' total probability beats every text
/// token). The caller checks cancellation through <paramref name="beforeStep"/>, called before every decoder step.
/// </summary>
internal sealed class WhisperDecoding(WhisperModel model, RunOptions runOptions, Action beforeStep)
{
    private readonly WhisperTokenizer _tokenizer = model.Tokenizer;
    private readonly WhisperGenerationConfig _config = model.Generation;

    /// <summary>The language token with the highest logit after <c>&lt;|startoftranscript|&gt;</c>.</summary>
    public (string Language, float Probability) DetectLanguage(OrtValue encoderHidden)
    {
        KeyValueCache? cross = null;
        beforeStep();
        var (logits, cache) = model.Step([_tokenizer.StartOfTranscript], encoderHidden, null, ref cross, runOptions);
        cache.Dispose();
        cross?.Dispose();
        var languages = _tokenizer.LanguageIds;
        var max = languages.Values.Max(id => logits[id]);
        var sum = languages.Values.Sum(id => Math.Exp(logits[id] - max));
        var best = languages.MaxBy(kv => logits[kv.Value]);
        return (best.Key, (float)(1 / sum));
    }

    /// <summary>Decodes after <paramref name="prompt"/>; returns the generated ids (without the prompt or end token).</summary>
    public IReadOnlyList<int> Decode(OrtValue encoderHidden, int[] prompt, bool timestamps, int beamSize, int maxNewTokens)
    {
        var limit = Math.Min(maxNewTokens, _config.MaxTargetPositions - prompt.Length);
        return beamSize <= 1 ? Greedy(encoderHidden, prompt, timestamps, limit) : Beam(encoderHidden, prompt, timestamps, beamSize, limit);
    }

    private List<int> Greedy(OrtValue encoderHidden, int[] prompt, bool timestamps, int limit)
    {
        var generated = new List<int>();
        KeyValueCache? cross = null;
        KeyValueCache? cache = null;
        try
        {
            long[] input = [.. prompt.Select(t => (long)t)];
            while (generated.Count < limit)
            {
                beforeStep();
                var (logits, next) = model.Step(input, encoderHidden, cache, ref cross, runOptions);
                cache?.Dispose();
                cache = next;
                Process(logits, generated, timestamps);
                var token = ArgMax(logits);
                if (token == _tokenizer.EndOfText)
                {
                    break;
                }

                generated.Add(token);
                input = [token];
            }

            return generated;
        }
        finally
        {
            cache?.Dispose();
            cross?.Dispose();
        }
    }

    private List<int> Beam(OrtValue encoderHidden, int[] prompt, bool timestamps, int beamSize, int limit)
    {
        var live = new List<Hypothesis> { new([], 0, null) };
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
                    long[] input = hypothesis.Cache is null ? [.. prompt.Select(t => (long)t)] : [hypothesis.Tokens[^1]];
                    var (logits, next) = model.Step(input, encoderHidden, hypothesis.Cache, ref cross, runOptions);
                    fresh.Add(next);
                    Process(logits, hypothesis.Tokens, timestamps);
                    var logProbabilities = LogSoftmax(logits);
                    foreach (var token in TopK(logProbabilities, 2 * beamSize))
                    {
                        candidates.Add((hypothesis, token, hypothesis.Score + logProbabilities[token], next));
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
                        finished.Add((tokens, score / Math.Max(1, tokens.Count)));
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

            return finished.Count > 0 ? finished.MaxBy(f => f.Score).Tokens : live.MaxBy(h => h.Score)?.Tokens ?? [];
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

        var logProbabilities = LogSoftmax(logits);
        var timestampMass = LogSumExp(logProbabilities.AsSpan(begin));
        var bestText = float.NegativeInfinity;
        foreach (var value in logProbabilities.AsSpan(0, begin))
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

    private static IEnumerable<int> TopK(float[] values, int k) =>
        Enumerable.Range(0, values.Length).Where(i => !float.IsNegativeInfinity(values[i])).OrderByDescending(i => values[i]).Take(k);

    private static float[] LogSoftmax(float[] logits)
    {
        var max = logits.Max();
        double sum = 0;
        foreach (var value in logits)
        {
            sum += Math.Exp(value - max);
        }

        var log = max + (float)Math.Log(sum);
        return [.. logits.Select(v => v - log)];
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
}
