namespace Appliance.Llm;

/// <summary>
/// Finds added tokens in a text the way the Hugging Face tokenizers split them off before normalizing and
/// pre-tokenizing: left to right, the longest token that starts at a position first. Immutable; thread-safe.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly string[] _tokens;
    private readonly System.Buffers.SearchValues<char> _starts;

    /// <param name="tokens">The added tokens' contents; empty ones are ignored.</param>
    public AddedTokenSplitter(IEnumerable<string> tokens)
    {
        _tokens = [.. tokens.Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).OrderByDescending(t => t.Length)];
        _starts = System.Buffers.SearchValues.Create([.. _tokens.Select(t => t[0]).Distinct()]);
    }

    /// <summary>
    /// The stretches of <paramref name="text"/> between added tokens, in order, each with the token that ends it (null for
    /// the last stretch, which runs to the end). A stretch may be empty.
    /// </summary>
    public IEnumerable<(int Start, int Length, string? Token)> Split(string text)
    {
        var start = 0;
        var i = 0;
        while (_tokens.Length > 0 && i < text.Length)
        {
            // Only where a token can start is it looked for.
            var next = text.AsSpan(i).IndexOfAny(_starts);
            if (next < 0)
            {
                break;
            }

            i += next;
            var token = Array.Find(_tokens, t => text.AsSpan(i).StartsWith(t, StringComparison.Ordinal));
            if (token is null)
            {
                i++;
                continue;
            }

            yield return (start, i - start, token);
            i += token.Length;
            start = i;
        }

        yield return (start, text.Length - start, null);
    }
}
