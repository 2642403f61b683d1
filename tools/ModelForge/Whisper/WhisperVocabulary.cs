namespace Appliance.ModelForge.Whisper;

/// <summary>
/// Ids of Whisper's multilingual vocabulary: 50257 byte-level BPE ids, then the special tokens at their real ids
/// (<c>&lt;|endoftext|&gt;</c> 50257, <c>&lt;|startoftranscript|&gt;</c> 50258, 99 language tokens, task and control
/// tokens, <c>&lt;|notimestamps|&gt;</c> 50363) and 1501 timestamp tokens (0.00 to 30.00 s in 0.02 s steps).
/// </summary>
internal static class WhisperVocabulary
{
    public const int Size = 51865;
    public const int EndOfText = 50257;
    public const int StartOfTranscript = 50258;
    public const int FirstLanguage = 50259;
    public const int Translate = 50358;
    public const int Transcribe = 50359;
    public const int StartOfLm = 50360;
    public const int StartOfPrevious = 50361;
    public const int NoCaptions = 50362;
    public const int NoTimestamps = 50363;
    public const int FirstTimestamp = 50364;
    public const int TimestampCount = 1501;

    /// <summary>Language codes in token order, as in the released multilingual Whisper models.</summary>
    public static IReadOnlyList<string> Languages { get; } =
    [
        "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id", "hi", "fi", "vi",
        "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk",
        "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
        "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
        "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su",
    ];

    /// <summary>The added (special and timestamp) tokens from id 50257 up, with their contents.</summary>
    public static IEnumerable<(int Id, string Content, bool Special)> AddedTokens()
    {
        yield return (EndOfText, "<|endoftext|>", true);
        yield return (StartOfTranscript, "<|startoftranscript|>", true);
        for (var i = 0; i < Languages.Count; i++)
        {
            yield return (FirstLanguage + i, $"<|{Languages[i]}|>", true);
        }

        yield return (Translate, "<|translate|>", true);
        yield return (Transcribe, "<|transcribe|>", true);
        yield return (StartOfLm, "<|startoflm|>", true);
        yield return (StartOfPrevious, "<|startofprev|>", true);
        yield return (NoCaptions, "<|nocaptions|>", true);
        yield return (NoTimestamps, "<|notimestamps|>", true);
        for (var i = 0; i < TimestampCount; i++)
        {
            yield return (FirstTimestamp + i, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"<|{i * 0.02:0.00}|>"), false);
        }
    }
}
