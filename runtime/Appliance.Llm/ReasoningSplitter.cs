using System.Text;

namespace Appliance.Llm;

/// <summary>
/// Splits generated text into reasoning and answer at <c>&lt;think&gt;</c> / <c>&lt;/think&gt;</c>, whichever
/// tokens they arrive in. Tags never reach either side; text that may be the start of a tag is held back until
/// the next piece decides it. Not thread-safe: one per generation.
/// </summary>
internal sealed class ReasoningSplitter(bool startInReasoning)
{
    private const string Open = "<think>";
    private const string Close = "</think>";

    private readonly StringBuilder _pending = new();
    private bool _trimAnswerStart = startInReasoning;

    public bool InReasoning { get; private set; } = startInReasoning;

    /// <summary>Adds generated text; the text that is now certain goes to <paramref name="reasoning"/> and <paramref name="answer"/>.</summary>
    public void Push(string text, StringBuilder reasoning, StringBuilder answer)
    {
        _pending.Append(text);
        var buffer = _pending.ToString();
        _pending.Clear();
        var start = 0;
        while (true)
        {
            var open = buffer.IndexOf(Open, start, StringComparison.Ordinal);
            var close = buffer.IndexOf(Close, start, StringComparison.Ordinal);
            var at = open < 0 ? close : close < 0 ? open : Math.Min(open, close);
            if (at < 0)
            {
                break;
            }

            Emit(buffer.AsSpan(start, at - start), reasoning, answer);
            var isOpen = at == open;
            if (isOpen != InReasoning)
            {
                InReasoning = isOpen;
                _trimAnswerStart |= !isOpen;
            }

            start = at + (isOpen ? Open.Length : Close.Length);
        }

        var hold = HeldBackLength(buffer.AsSpan(start));
        Emit(buffer.AsSpan(start, buffer.Length - start - hold), reasoning, answer);
        _pending.Append(buffer.AsSpan(buffer.Length - hold));
    }

    /// <summary>Ends the reasoning now (the budget is spent): held-back text is reasoning, what follows is answer.</summary>
    public void CloseReasoning(StringBuilder reasoning)
    {
        if (!InReasoning)
        {
            return;
        }

        reasoning.Append(_pending);
        _pending.Clear();
        InReasoning = false;
        _trimAnswerStart = true;
    }

    /// <summary>The generation ended: held-back text that turned out not to be a tag is released.</summary>
    public void Flush(StringBuilder reasoning, StringBuilder answer)
    {
        Emit(_pending.ToString(), reasoning, answer);
        _pending.Clear();
    }

    // The longest tail of the text that is a proper prefix of a tag.
    private static int HeldBackLength(ReadOnlySpan<char> text)
    {
        for (var length = Math.Min(text.Length, Close.Length - 1); length > 0; length--)
        {
            var tail = text[^length..];
            if (Open.AsSpan().StartsWith(tail, StringComparison.Ordinal) || Close.AsSpan().StartsWith(tail, StringComparison.Ordinal))
            {
                return length;
            }
        }

        return 0;
    }

    private void Emit(ReadOnlySpan<char> text, StringBuilder reasoning, StringBuilder answer)
    {
        if (InReasoning)
        {
            reasoning.Append(text);
            return;
        }

        if (_trimAnswerStart)
        {
            text = text.TrimStart();
            _trimAnswerStart = text.IsEmpty;
        }

        answer.Append(text);
    }
}
