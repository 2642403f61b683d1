using System.Text.Json;

namespace Appliance.Llm;

/// <summary>
/// What the daemon takes from a model folder's <c>tokenizer.json</c> (the Hugging Face tokenizers format) beside what
/// GenAI's tokenizer reads from it: the bytes of each token, for streamed text, and whether the normalizer composes
/// text to NFC before the model sees it, which GenAI's tokenizer skips (<see cref="UnicodeNfc"/>). Read once per model
/// folder. Immutable.
/// </summary>
/// <param name="Vocabulary">The byte-level vocabulary; null when the decoder is not byte-level.</param>
/// <param name="NormalizesToNfc">The normalizer is <c>NFC</c>, alone or within a <c>Sequence</c>.</param>
internal sealed record TokenizerFile(ByteLevelVocabulary? Vocabulary, bool NormalizesToNfc)
{
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
            root.TryGetProperty("normalizer", out var normalizer) && IsNfc(normalizer));
    }

    private static bool IsNfc(JsonElement normalizer) =>
        normalizer.ValueKind == JsonValueKind.Object && normalizer.TryGetProperty("type", out var type) && type.GetString() switch
        {
            "NFC" => true,
            "Sequence" => normalizer.TryGetProperty("normalizers", out var parts) && parts.ValueKind == JsonValueKind.Array && parts.EnumerateArray().Any(IsNfc),
            _ => false,
        };
}
