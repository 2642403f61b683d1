namespace Appliance.Meetings;

/// <summary>
/// Splits a transcript into chunks that fit a model's context, for the map step of a map-reduce summary. Chunks
/// break between sentences where possible (a sentence longer than the limit is split between words, a word longer
/// than the limit between characters) and repeat the last sentences of the previous chunk as overlap. Thread-safe
/// as long as the token counter is.
/// </summary>
public static class TranscriptChunker
{
    /// <summary>Chunks the text of transcript segments, in their order.</summary>
    /// <inheritdoc cref="Chunk(string, int, int, Func{string, int})"/>
    public static IReadOnlyList<string> Chunk(IEnumerable<TranscriptSegment> segments, int maxTokens, int overlapTokens, Func<string, int> countTokens)
    {
        ArgumentNullException.ThrowIfNull(segments);
        return Chunk(string.Join('\n', segments.Select(s => s.Text.Trim())), maxTokens, overlapTokens, countTokens);
    }

    /// <summary>
    /// Splits <paramref name="text"/> into chunks of at most <paramref name="maxTokens"/> tokens each, as counted by
    /// <paramref name="countTokens"/> (the model's tokenizer) on the chunk's exact text. Each chunk after the first
    /// starts with whole sentences from the end of the previous one, up to <paramref name="overlapTokens"/> tokens
    /// (fewer where the next sentence would not fit otherwise).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTokens"/> is below 1, or <paramref name="overlapTokens"/> is negative or not below <paramref name="maxTokens"/>.</exception>
    public static IReadOnlyList<string> Chunk(string text, int maxTokens, int overlapTokens, Func<string, int> countTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(countTokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(overlapTokens);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(overlapTokens, maxTokens);

        var units = new List<string>();
        foreach (var sentence in TextUnits.Sentences(text))
        {
            Fit(sentence, maxTokens, countTokens, units);
        }

        var chunks = new List<string>();
        var current = new List<string>();
        foreach (var unit in units)
        {
            current.Add(unit);
            if (current.Count == 1 || countTokens(Join(current)) <= maxTokens)
            {
                continue;
            }

            current.RemoveAt(current.Count - 1);
            chunks.Add(Join(current));
            current = Overlap(current, unit, maxTokens, overlapTokens, countTokens);
            current.Add(unit);
        }

        if (current.Count > 0)
        {
            chunks.Add(Join(current));
        }

        return chunks;
    }

    private static List<string> Overlap(List<string> previous, string next, int maxTokens, int overlapTokens, Func<string, int> countTokens)
    {
        var overlap = new List<string>();
        for (var i = previous.Count - 1; i >= 0 && overlapTokens > 0; i--)
        {
            overlap.Insert(0, previous[i]);
            if (countTokens(Join(overlap)) > overlapTokens || countTokens(Join([.. overlap, next])) > maxTokens)
            {
                overlap.RemoveAt(0);
                break;
            }
        }

        return overlap;
    }

    /// <summary>Adds <paramref name="text"/> as one unit when it fits, else its words (or characters) in runs that fit.</summary>
    private static void Fit(string text, int maxTokens, Func<string, int> countTokens, List<string> units)
    {
        if (countTokens(text) <= maxTokens)
        {
            units.Add(text);
            return;
        }

        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 1)
        {
            var start = 0;
            while (start < text.Length)
            {
                var length = 1;
                while (start + length < text.Length && countTokens(text.Substring(start, length + 1)) <= maxTokens)
                {
                    length++;
                }

                units.Add(text.Substring(start, length));
                start += length;
            }

            return;
        }

        var run = new List<string>();
        foreach (var word in words)
        {
            run.Add(word);
            if (run.Count > 1 && countTokens(string.Join(' ', run)) > maxTokens)
            {
                run.RemoveAt(run.Count - 1);
                units.Add(string.Join(' ', run));
                run.Clear();
                run.Add(word);
            }

            if (run.Count == 1 && countTokens(word) > maxTokens)
            {
                Fit(word, maxTokens, countTokens, units);
                run.Clear();
            }
        }

        if (run.Count > 0)
        {
            units.Add(string.Join(' ', run));
        }
    }

    private static string Join(List<string> units) => string.Join(' ', units);
}
