using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Appliance.ModelForge.Llm;

/// <summary>One token of the forged vocabulary.</summary>
/// <param name="Id">Token id (row of the embedding).</param>
/// <param name="Content">Token text; for BPE tokens, in the printable byte alphabet.</param>
/// <param name="Kind">What the token is.</param>
public readonly record struct ForgedToken(int Id, string Content, ForgedTokenKind Kind);

/// <summary>Kinds of tokens in a forged vocabulary.</summary>
public enum ForgedTokenKind
{
    /// <summary>A byte or a learned BPE merge.</summary>
    Normal,

    /// <summary>A filler that pads the vocabulary to the model's width; never produced by encoding.</summary>
    Padding,

    /// <summary>An added token that decoding skips (begin/end of sentence).</summary>
    Control,

    /// <summary>An added token that decoding keeps (chat roles, think tags).</summary>
    UserDefined,
}

/// <summary>
/// The vocabulary, merges and special tokens of a forged DeepSeek-R1-style tokenizer, and its files in the
/// Hugging Face format (<c>tokenizer.json</c>, <c>tokenizer_config.json</c>) that ONNX Runtime GenAI,
/// transformers.js and llama.cpp (through GGUF metadata) all read.
/// </summary>
public sealed class R1Tokenizer
{
    /// <summary>Begin-of-sentence token.</summary>
    public const string BeginOfSentence = "<｜begin▁of▁sentence｜>";

    /// <summary>End-of-sentence token (also padding and the generation stop token).</summary>
    public const string EndOfSentence = "<｜end▁of▁sentence｜>";

    /// <summary>User role tag.</summary>
    public const string User = "<｜User｜>";

    /// <summary>Assistant role tag.</summary>
    public const string Assistant = "<｜Assistant｜>";

    /// <summary>Opening reasoning tag.</summary>
    public const string ThinkStart = "<think>";

    /// <summary>Closing reasoning tag.</summary>
    public const string ThinkEnd = "</think>";

    /// <summary>
    /// The chat template of the R1 distills: BOS, the system prompt, user turns after <c>&lt;｜User｜&gt;</c>,
    /// assistant turns (reasoning stripped) after <c>&lt;｜Assistant｜&gt;</c>, and, with
    /// <c>add_generation_prompt</c>, a trailing <c>&lt;｜Assistant｜&gt;&lt;think&gt;\n</c>.
    /// </summary>
    public const string ChatTemplate =
        "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}" +
        "{% set ns = namespace(system_prompt='') %}" +
        "{% for message in messages %}{% if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{% endif %}{% endfor %}" +
        "{{ bos_token }}{{ ns.system_prompt }}" +
        "{% for message in messages %}" +
        "{% if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{% endif %}" +
        "{% if message['role'] == 'assistant' %}{% set content = message['content'] %}" +
        "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}" +
        "{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}{% endif %}" +
        "{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}";

    private static readonly (string Content, bool Special)[] s_specialTokens =
    [
        (EndOfSentence, true),
        (User, false),
        (Assistant, false),
        (BeginOfSentence, true),
        ("<|EOT|>", true),
        (ThinkStart, false),
        (ThinkEnd, false),
    ];

    private static readonly JsonWriterOptions s_jsonOptions = new()
    {
        Indented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly int _contextLength;

    private R1Tokenizer(IReadOnlyList<ForgedToken> tokens, IReadOnlyList<(string Left, string Right)> merges, int contextLength)
    {
        Tokens = tokens;
        Merges = merges;
        _contextLength = contextLength;
    }

    /// <summary>All tokens, indexed by id (ids 0..VocabSize-1, no gaps).</summary>
    public IReadOnlyList<ForgedToken> Tokens { get; }

    /// <summary>BPE merges in priority order.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    /// <summary>Id of <see cref="BeginOfSentence"/>.</summary>
    public int BosTokenId => IdOf(BeginOfSentence);

    /// <summary>Id of <see cref="EndOfSentence"/>.</summary>
    public int EosTokenId => IdOf(EndOfSentence);

    /// <summary>Builds the tokenizer for a preset: bytes, learned merges, padding, then the special tokens.</summary>
    public static R1Tokenizer Create(LlmPreset preset)
    {
        RequireRoomForSpecialTokens(preset);
        var tokens = new List<ForgedToken>(preset.VocabSize);
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var symbol in ByteLevelBpe.ByteSymbols)
        {
            known.Add(symbol);
            tokens.Add(new ForgedToken(tokens.Count, symbol, ForgedTokenKind.Normal));
        }

        var merges = new List<(string, string)>();
        foreach (var merge in ByteLevelBpe.LearnMerges(TrainingCorpus.Text, preset.BpeMergeCount))
        {
            var merged = merge.Left + merge.Right;
            if (tokens.Count >= preset.SpecialTokenBaseId || !known.Add(merged))
            {
                continue;
            }

            merges.Add(merge);
            tokens.Add(new ForgedToken(tokens.Count, merged, ForgedTokenKind.Normal));
        }

        return Complete(preset, tokens, merges);
    }

    /// <summary>
    /// Builds the tokenizer for a preset on the byte-level BPE vocabulary and merges of a Hugging Face
    /// <c>tokenizer.json</c> (such as Qwen's, whose 151,643 ordinary tokens the DeepSeek-R1 distills keep), followed by
    /// the R1 special tokens from <see cref="LlmPreset.SpecialTokenBaseId"/> and padding, as the distills lay them out.
    /// Reads the whole file (about 11 MB for Qwen's).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a BPE tokenizer.json, or its ids are not 0 to n-1.</exception>
    /// <exception cref="ArgumentException">Its vocabulary does not end where the preset's special tokens start.</exception>
    public static R1Tokenizer FromVocabulary(LlmPreset preset, string tokenizerJsonPath)
    {
        RequireRoomForSpecialTokens(preset);
        using var document = JsonDocument.Parse(File.ReadAllBytes(tokenizerJsonPath));
        if (!document.RootElement.TryGetProperty("model", out var model) || !model.TryGetProperty("type", out var type) || type.GetString() != "BPE"
            || !model.TryGetProperty("vocab", out var vocab) || !model.TryGetProperty("merges", out var mergeList))
        {
            throw new InvalidDataException($"{tokenizerJsonPath} holds no BPE model with a vocabulary and merges");
        }

        var entries = vocab.EnumerateObject().ToList();
        var contents = new string?[entries.Count];
        foreach (var entry in entries)
        {
            var id = entry.Value.GetInt32();
            if (id < 0 || id >= contents.Length || contents[id] is not null)
            {
                throw new InvalidDataException($"{tokenizerJsonPath}: the vocabulary's ids are not 0 to {contents.Length - 1} (id {id} of '{entry.Name}')");
            }

            contents[id] = entry.Name;
        }

        if (contents.Length != preset.SpecialTokenBaseId)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"{tokenizerJsonPath} has {contents.Length} ordinary tokens; preset '{preset.Name}' puts its special tokens at {preset.SpecialTokenBaseId}"),
                nameof(tokenizerJsonPath));
        }

        var tokens = contents.Select((content, id) => new ForgedToken(id, content!, ForgedTokenKind.Normal)).ToList();
        var merges = mergeList.EnumerateArray().Select(merge => merge.ValueKind == JsonValueKind.Array
            ? (merge[0].GetString()!, merge[1].GetString()!)
            : SplitMerge(merge.GetString()!)).ToList();
        return Complete(preset, tokens, merges);
    }

    /// <summary>Id of a token by its exact content.</summary>
    public int IdOf(string content) => Tokens.First(t => t.Content == content).Id;

    /// <summary>Writes <c>tokenizer.json</c> (Hugging Face tokenizers format, Qwen2 style byte-level BPE).</summary>
    public void WriteTokenizerJson(string path)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, s_jsonOptions);
        json.WriteStartObject();
        json.WriteString("version", "1.0");
        json.WriteNull("truncation");
        json.WriteNull("padding");
        json.WriteStartArray("added_tokens");
        foreach (var token in Tokens.Where(t => t.Kind is ForgedTokenKind.Control or ForgedTokenKind.UserDefined))
        {
            json.WriteStartObject();
            json.WriteNumber("id", token.Id);
            json.WriteString("content", token.Content);
            json.WriteBoolean("single_word", false);
            json.WriteBoolean("lstrip", false);
            json.WriteBoolean("rstrip", false);
            json.WriteBoolean("normalized", false);
            json.WriteBoolean("special", token.Kind == ForgedTokenKind.Control);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartObject("normalizer");
        json.WriteString("type", "NFC");
        json.WriteEndObject();
        json.WriteStartObject("pre_tokenizer");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("pretokenizers");
        json.WriteStartObject();
        json.WriteString("type", "Split");
        json.WriteStartObject("pattern");
        json.WriteString("Regex", ByteLevelBpe.PreTokenizerPattern);
        json.WriteEndObject();
        json.WriteString("behavior", "Isolated");
        json.WriteBoolean("invert", false);
        json.WriteEndObject();
        WriteByteLevel(json);
        json.WriteEndArray();
        json.WriteEndObject();
        json.WritePropertyName("post_processor");
        WriteByteLevel(json);
        json.WritePropertyName("decoder");
        WriteByteLevel(json);
        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteNull("dropout");
        json.WriteNull("unk_token");
        json.WriteString("continuing_subword_prefix", string.Empty);
        json.WriteString("end_of_word_suffix", string.Empty);
        json.WriteBoolean("fuse_unk", false);
        json.WriteBoolean("byte_fallback", false);
        json.WriteBoolean("ignore_merges", false);
        json.WriteStartObject("vocab");
        foreach (var token in Tokens.Where(t => t.Kind is ForgedTokenKind.Normal or ForgedTokenKind.Padding))
        {
            json.WriteNumber(token.Content, token.Id);
        }

        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right) in Merges)
        {
            json.WriteStringValue(left + " " + right);
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>Writes <c>tokenizer_config.json</c> with the special tokens and the R1 chat template.</summary>
    public void WriteTokenizerConfigJson(string path)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, s_jsonOptions);
        json.WriteStartObject();
        json.WriteBoolean("add_bos_token", false);
        json.WriteBoolean("add_eos_token", false);
        json.WriteStartObject("added_tokens_decoder");
        foreach (var token in Tokens.Where(t => t.Kind is ForgedTokenKind.Control or ForgedTokenKind.UserDefined))
        {
            json.WriteStartObject(token.Id.ToString(CultureInfo.InvariantCulture));
            json.WriteString("content", token.Content);
            json.WriteBoolean("lstrip", false);
            json.WriteBoolean("normalized", false);
            json.WriteBoolean("rstrip", false);
            json.WriteBoolean("single_word", false);
            json.WriteBoolean("special", token.Kind == ForgedTokenKind.Control);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteString("bos_token", BeginOfSentence);
        json.WriteString("chat_template", ChatTemplate);
        json.WriteBoolean("clean_up_tokenization_spaces", false);
        json.WriteString("eos_token", EndOfSentence);
        json.WriteBoolean("legacy", true);
        json.WriteNumber("model_max_length", _contextLength);
        json.WriteString("pad_token", EndOfSentence);
        json.WriteNull("unk_token");
        json.WriteString("tokenizer_class", "LlamaTokenizerFast");
        json.WriteEndObject();
    }

    private static ForgedToken Padding(int id) => new(id, $"[PAD{id}]", ForgedTokenKind.Padding);

    private static void RequireRoomForSpecialTokens(LlmPreset preset)
    {
        ArgumentNullException.ThrowIfNull(preset);
        if (preset.SpecialTokenBaseId + s_specialTokens.Length > preset.VocabSize)
        {
            throw new ArgumentException($"Preset '{preset.Name}': special tokens must fit below the vocabulary size {preset.VocabSize}.", nameof(preset));
        }
    }

    // Ordinary tokens, then padding up to the special tokens, the special tokens, and padding to the model's width.
    private static R1Tokenizer Complete(LlmPreset preset, List<ForgedToken> tokens, List<(string Left, string Right)> merges)
    {
        while (tokens.Count < preset.SpecialTokenBaseId)
        {
            tokens.Add(Padding(tokens.Count));
        }

        foreach (var (content, special) in s_specialTokens)
        {
            tokens.Add(new ForgedToken(tokens.Count, content, special ? ForgedTokenKind.Control : ForgedTokenKind.UserDefined));
        }

        while (tokens.Count < preset.VocabSize)
        {
            tokens.Add(Padding(tokens.Count));
        }

        return new R1Tokenizer(tokens, merges, preset.ContextLength);
    }

    // The older tokenizer.json form of a merge: "left right" (neither side holds a space in byte-level BPE).
    private static (string Left, string Right) SplitMerge(string merge)
    {
        var space = merge.IndexOf(' ', StringComparison.Ordinal);
        return space > 0 ? (merge[..space], merge[(space + 1)..]) : throw new InvalidDataException($"merge '{merge}' is not two symbols");
    }

    private static void WriteByteLevel(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", false);
        json.WriteBoolean("use_regex", false);
        json.WriteEndObject();
    }
}
