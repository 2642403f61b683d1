using System.Text;

namespace Appliance.Llm;

/// <summary>
/// Finds stop sequences in streamed answer text. Text that may be the start of a stop sequence is held back, so a
/// partial stop string is never emitted. Not thread-safe: one per generation.
/// </summary>
internal sealed class StopSequenceFilter(IReadOnlyList<string> stopSequences)
{
    private readonly string[] _stops = [.. stopSequences.Where(s => s.Length > 0)];
    private readonly StringBuilder _pending = new();

    /// <summary>Adds answer text and returns the part that is safe to emit; <paramref name="stopped"/> when a stop sequence was reached.</summary>
    public string Push(string text, out bool stopped)
    {
        stopped = false;
        if (_stops.Length == 0)
        {
            return text;
        }

        _pending.Append(text);
        var buffer = _pending.ToString();
        _pending.Clear();
        var first = _stops.Select(s => buffer.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (first >= 0)
        {
            stopped = true;
            return buffer[..first];
        }

        var hold = 0;
        foreach (var stop in _stops)
        {
            for (var length = Math.Min(buffer.Length, stop.Length - 1); length > hold; length--)
            {
                if (buffer.AsSpan(buffer.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    hold = length;
                    break;
                }
            }
        }

        _pending.Append(buffer.AsSpan(buffer.Length - hold));
        return buffer[..^hold];
    }

    /// <summary>The generation ended without a stop: held-back text is released.</summary>
    public string Flush()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        return rest;
    }
}
