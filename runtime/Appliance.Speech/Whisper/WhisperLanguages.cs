namespace Appliance.Speech.Whisper;

/// <summary>
/// The languages of the released multilingual Whisper models (their <c>&lt;|xx|&gt;</c> tokens, in token order, as in
/// OpenAI's <c>whisper/tokenizer.py</c>), and the normalisation of the language tags people and devices send: a BCP 47
/// locale tag in any case (<c>en-US</c>, <c>fa-IR</c>, <c>zh-Hans</c>, <c>EN</c>) becomes Whisper's code. Pure
/// functions: thread-safe.
/// </summary>
public static class WhisperLanguages
{
    /// <summary>The 99 language codes, in token order from <c>&lt;|en|&gt;</c> (Whisper writes Javanese as <c>jw</c>).</summary>
    public static IReadOnlyList<string> Codes { get; } =
    [
        "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id", "hi", "fi", "vi",
        "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk",
        "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
        "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
        "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su",
    ];

    private static readonly HashSet<string> s_codes = [.. Codes, "yue"];

    // ISO 639-1 codes that Whisper spells otherwise, and deprecated codes still sent by older systems.
    private static readonly Dictionary<string, string> s_aliases = new(StringComparer.Ordinal)
    {
        ["jv"] = "jw",
        ["nb"] = "no",
        ["iw"] = "he",
        ["in"] = "id",
        ["ji"] = "yi",
    };

    /// <summary>
    /// Whisper's code for a language tag: its primary subtag (before <c>-</c> or <c>_</c>), lower-cased, with the
    /// aliases above; null when that is not a language Whisper knows (Cantonese, <c>yue</c>, is known to large-v3
    /// only).
    /// </summary>
    /// <param name="tag">A code or locale tag such as <c>en</c>, <c>en-US</c>, <c>zh_Hans_CN</c> or <c>FA</c>.</param>
    public static string? Normalize(string? tag)
    {
        if (string.IsNullOrWhiteSpace(tag))
        {
            return null;
        }

        var primary = tag.Trim().Split('-', '_')[0].ToLowerInvariant();
        primary = s_aliases.GetValueOrDefault(primary, primary);
        return s_codes.Contains(primary) ? primary : null;
    }

    /// <summary>
    /// Resolves a language hint from a request: null stays null (detect); a known tag becomes its code, which must
    /// be one of <paramref name="allowed"/> when a profile lists its languages.
    /// </summary>
    /// <param name="tag">The hint as sent, or null.</param>
    /// <param name="allowed">The profile's languages, or null for any.</param>
    /// <param name="code">Whisper's code, or null (no hint, or refused).</param>
    /// <returns>Null when the hint is usable, otherwise why not, in words for the requester.</returns>
    public static string? Resolve(string? tag, IReadOnlyList<string>? allowed, out string? code)
    {
        code = null;
        if (tag is null)
        {
            return null;
        }

        if (Normalize(tag) is not { } known)
        {
            return $"'{tag}' is not a language Whisper knows: give a code such as en, fa, ar or zh, or a locale tag such as en-US";
        }

        if (allowed is not null && !allowed.Contains(known, StringComparer.Ordinal))
        {
            return $"'{tag}' is not one of this device's languages ({string.Join(", ", allowed)})";
        }

        code = known;
        return null;
    }
}
