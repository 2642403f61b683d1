using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Appliance.Inference;

namespace Appliance.Speech.Whisper;

/// <summary>
/// Whisper's tokenizer read from a Hugging Face <c>tokenizer.json</c> (byte-level BPE): decoding of ids to text and the
/// ids of the special tokens, language tokens (<c>&lt;|en|&gt;</c> …) and timestamp tokens (<c>&lt;|0.00|&gt;</c> …,
/// 0.02 s apart). Encoding text is not needed to transcribe and is not implemented. Immutable; thread-safe.
/// </summary>
public sealed partial class WhisperTokenizer
{
    private readonly string[] _tokens;
    private readonly bool[] _isAdded;
    private readonly bool[] _isSpecial;
    private readonly Dictionary<string, int> _ids;

    private WhisperTokenizer(string[] tokens, bool[] isAdded, bool[] isSpecial, Dictionary<string, int> ids)
    {
        _tokens = tokens;
        _isAdded = isAdded;
        _isSpecial = isSpecial;
        _ids = ids;
        EndOfText = ids["<|endoftext|>"];
        StartOfTranscript = ids["<|startoftranscript|>"];
        Transcribe = ids["<|transcribe|>"];
        Translate = ids["<|translate|>"];
        NoTimestamps = ids["<|notimestamps|>"];
        NoSpeech = ids.TryGetValue("<|nospeech|>", out var noSpeech) ? noSpeech : ids.TryGetValue("<|nocaptions|>", out var noCaptions) ? noCaptions : null;
        StartOfPrevious = ids.TryGetValue("<|startofprev|>", out var previous) ? previous : null;
        TimestampBegin = ids["<|0.00|>"];
        var languages = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (content, id) in ids)
        {
            if (LanguageToken().Match(content) is { Success: true } m && id > StartOfTranscript && id < Translate)
            {
                languages[m.Groups[1].Value] = id;
            }
        }

        LanguageIds = languages;
    }

    /// <summary>Ids in the vocabulary (the largest id plus one).</summary>
    public int VocabularySize => _tokens.Length;

    /// <summary><c>&lt;|endoftext|&gt;</c>.</summary>
    public int EndOfText { get; }

    /// <summary><c>&lt;|startoftranscript|&gt;</c>.</summary>
    public int StartOfTranscript { get; }

    /// <summary><c>&lt;|transcribe|&gt;</c>.</summary>
    public int Transcribe { get; }

    /// <summary><c>&lt;|translate|&gt;</c>.</summary>
    public int Translate { get; }

    /// <summary><c>&lt;|notimestamps|&gt;</c>.</summary>
    public int NoTimestamps { get; }

    /// <summary>
    /// The no-speech token (<c>&lt;|nospeech|&gt;</c>, called <c>&lt;|nocaptions|&gt;</c> before large-v3): its
    /// probability right after <c>&lt;|startoftranscript|&gt;</c> is the model's estimate that the window holds no
    /// speech. Null for a tokenizer without one.
    /// </summary>
    public int? NoSpeech { get; }

    /// <summary><c>&lt;|startofprev|&gt;</c>, which opens the previous text given as a prompt; null when absent.</summary>
    public int? StartOfPrevious { get; }

    /// <summary><c>&lt;|0.00|&gt;</c>; every id from here up is a timestamp.</summary>
    public int TimestampBegin { get; }

    /// <summary>Language codes (<c>en</c>, <c>fa</c>, <c>ar</c>, <c>zh</c>, …) and their token ids.</summary>
    public IReadOnlyDictionary<string, int> LanguageIds { get; }

    /// <summary>
    /// Reads <paramref name="path"/> (a <c>tokenizer.json</c>). A missing file, malformed JSON, or a tokenizer without
    /// Whisper's special tokens come back as the result's error.
    /// </summary>
    public static SpeechResult<WhisperTokenizer> Load(string path)
    {
        if (!File.Exists(path))
        {
            return SpeechResult.Failure<WhisperTokenizer>(SpeechErrorCode.ModelMissing, $"{path} does not exist.");
        }

        try
        {
            using var stream = File.OpenRead(path);
            using var json = JsonDocument.Parse(stream);
            var ids = new Dictionary<string, int>(StringComparer.Ordinal);
            var added = new Dictionary<int, bool>();
            foreach (var entry in json.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject())
            {
                ids[entry.Name] = entry.Value.GetInt32();
            }

            foreach (var token in json.RootElement.GetProperty("added_tokens").EnumerateArray())
            {
                var id = token.GetProperty("id").GetInt32();
                ids[token.GetProperty("content").GetString()!] = id;
                added[id] = token.TryGetProperty("special", out var special) && special.GetBoolean();
            }

            var size = ids.Values.Max() + 1;
            var tokens = new string[size];
            var isAdded = new bool[size];
            var isSpecial = new bool[size];
            foreach (var (content, id) in ids)
            {
                tokens[id] = content;
                if (added.TryGetValue(id, out var special))
                {
                    isAdded[id] = true;
                    isSpecial[id] = special;
                }
            }

            string[] required = ["<|endoftext|>", "<|startoftranscript|>", "<|transcribe|>", "<|translate|>", "<|notimestamps|>", "<|0.00|>"];
            if (required.FirstOrDefault(r => !ids.ContainsKey(r)) is { } missing)
            {
                return SpeechResult.Failure<WhisperTokenizer>(SpeechErrorCode.ModelInvalid, $"{path} lacks Whisper's special token {missing}.");
            }

            return SpeechResult.Success(new WhisperTokenizer(tokens, isAdded, isSpecial, ids));
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return SpeechResult.Failure<WhisperTokenizer>(SpeechErrorCode.ModelInvalid, $"{path} is not a tokenizer.json: {ex.Message}");
        }
    }

    /// <summary>The id of a token's exact content (<c>&lt;|fa|&gt;</c>, <c>Ġthe</c>), or null.</summary>
    public int? IdOf(string token) => _ids.TryGetValue(token, out var id) ? id : null;

    /// <summary>A token's content as stored (byte-level symbols for ordinary tokens), or null for an unknown id.</summary>
    public string? TokenOf(int id) => id >= 0 && id < _tokens.Length ? _tokens[id] : null;

    /// <summary>True for timestamp tokens.</summary>
    public bool IsTimestamp(int id) => id >= TimestampBegin && id < _tokens.Length;

    /// <summary>True for special tokens (control, language, task; not timestamps, not text).</summary>
    public bool IsSpecial(int id) => id >= 0 && id < _isSpecial.Length && _isSpecial[id];

    /// <summary>Seconds of a timestamp token (0.02 s per step from <see cref="TimestampBegin"/>).</summary>
    public double TimestampSeconds(int id) => (id - TimestampBegin) * 0.02;

    /// <summary>
    /// Text of <paramref name="ids"/>: byte-level symbols back to bytes, then UTF-8 (invalid sequences become U+FFFD, as
    /// the reference tokenizer's "replace" does). With <paramref name="skipSpecialTokens"/> special and timestamp tokens
    /// are left out; otherwise they are written as their contents. Unknown ids are skipped.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            if (TokenOf(id) is not { } token)
            {
                continue;
            }

            if (_isAdded[id])
            {
                if (skipSpecialTokens && (_isSpecial[id] || IsTimestamp(id)))
                {
                    continue;
                }

                Flush(bytes, text);
                text.Append(token);
                continue;
            }

            foreach (var symbol in token)
            {
                if (ByteLevelSymbols.TryGetByte(symbol, out var b))
                {
                    bytes.Add(b);
                }
            }
        }

        Flush(bytes, text);
        return text.ToString();
    }

    private static void Flush(List<byte> bytes, StringBuilder text)
    {
        if (bytes.Count > 0)
        {
            text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
    }

    [GeneratedRegex(@"^<\|([a-z]{2,3})\|>$")]
    private static partial Regex LanguageToken();
}
