using System.Text.Json;

namespace Appliance.Llm;

/// <summary>
/// What the daemon takes from a model folder's <c>tokenizer.json</c> (the Hugging Face tokenizers format) beside what
/// GenAI's tokenizer reads from it: the bytes of each token, for streamed text, and whether the normalizer composes
/// text to NFC before the model sees it, which GenAI's tokenizer skips (<see cref="UnicodeNfc"/>), with the added
/// tokens it must leave alone; and the encoder of the whitespace pieces GenAI's tokenizer splits otherwise. Read once
/// per model folder. Immutable; thread-safe.
/// </summary>
/// <param name="Vocabulary">The byte-level vocabulary; null when the decoder is not byte-level.</param>
/// <param name="NormalizesToNfc">The normalizer is <c>NFC</c>, alone or within a <c>Sequence</c>.</param>
/// <param name="Unnormalized">Added tokens marked <c>"normalized": false</c> (the role and reasoning markers), longest first.</param>
/// <param name="LineBreaks">The encoder of the whitespace pieces with a line break; null when the file's tokenizer is not one it reproduces.</param>
internal sealed record TokenizerFile(ByteLevelVocabulary? Vocabulary, bool NormalizesToNfc, IReadOnlyList<string> Unnormalized, LineBreakPieces? LineBreaks)
{
    private readonly AddedTokenSplitter _unnormalized = new(Unnormalized);

    /// <summary>
    /// <paramref name="text"/> normalized as the tokenizer normalizes it before its model: when it declares NFC, the text
    /// between the added tokens that are not normalized is composed, as the Hugging Face tokenizers split those tokens off
    /// first (so a "&gt;" closing a role marker never composes with a combining mark the message starts with). The same
    /// instance when nothing changes.
    /// </summary>
    public string Normalize(string text)
    {
        if (!NormalizesToNfc || !UnicodeNfc.MayChange(text))
        {
            return text;
        }

        var normalized = new System.Text.StringBuilder(text.Length);
        foreach (var (start, length, token) in _unnormalized.Split(text))
        {
            normalized.Append(UnicodeNfc.Normalize(text.Substring(start, length))).Append(token);
        }

        return normalized.ToString();
    }

    /// <summary>Reads <c>tokenizer.json</c> in <paramref name="directory"/>; null when there is none.</summary>
    /// <exception cref="JsonException">The file is not valid JSON.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static TokenizerFile? Read(string directory)
    {
        var path = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(path))
        {
            return null;
        }

        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        return new TokenizerFile(
            ByteLevelVocabulary.FromTokenizerJson(root),
            root.TryGetProperty("normalizer", out var normalizer) && IsNfc(normalizer),
            UnnormalizedAddedTokens(root),
            LineBreakPieces.FromTokenizerJson(root));
    }

    private static string[] UnnormalizedAddedTokens(JsonElement root) =>
        root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array
            ? [.. added.EnumerateArray()
                .Where(t => t.TryGetProperty("normalized", out var flag) && flag.ValueKind == JsonValueKind.False)
                .Select(t => t.TryGetProperty("content", out var content) ? content.GetString() : null)
                .OfType<string>()
                .Where(c => c.Length > 0)
                .Distinct(StringComparer.Ordinal)
                .OrderByDescending(c => c.Length)]
            : [];

    private static bool IsNfc(JsonElement normalizer) =>
        normalizer.ValueKind == JsonValueKind.Object && normalizer.TryGetProperty("type", out var type) && type.GetString() switch
        {
            "NFC" => true,
            "Sequence" => normalizer.TryGetProperty("normalizers", out var parts) && parts.ValueKind == JsonValueKind.Array && parts.EnumerateArray().Any(IsNfc),
            _ => false,
        };
}
