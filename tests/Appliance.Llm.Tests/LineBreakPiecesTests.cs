using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.Llm.Tests;

/// <summary>
/// <see cref="LineBreakPieces"/> on small tokenizer.json files written here: which stretches go to GenAI, the BPE of
/// the pieces it takes, and the tokenizers it leaves to GenAI whole. (Its agreement with transformers.js on the real
/// Qwen3 tokenizer and the forged R1 one is <c>ChatTemplateParityTests</c>'.)
/// </summary>
public sealed class LineBreakPiecesTests
{
    private const string QwenPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    // Byte-level symbols: Ġ is the space, Ċ the line feed, ĉ the tab, Â and ħ the bytes of U+0085 (C2 85).
    private static readonly string[] s_vocabulary = ["Ġ", "Ċ", "ĉ", "a", "b", "ĠĠ", "ĠĊ", "ĊĠ", "ĠĠĊ", "<|end|>", "Â", "ħ"];

    [Fact]
    public void TheTextBetweenIndentedLineBreakPiecesGoesToGenAiAndThePiecesAreEncodedHere()
    {
        var pieces = Load(Tokenizer());
        var sent = new List<string>();
        var ids = pieces.Encode("ab\n  \nab  \n\tb\n\n\t\nc", Recording(sent));

        // The pre-tokenizer's pieces: "ab", "\n  \n", "ab", "  \n", "\tb", "\n\n\t\n", "c". GenAI splits "  \n" as
        // the pattern does (no line break before the blanks), so it stays in GenAI's stretch.
        Assert.Equal(["ab", "ab  \n\tb", "c"], sent);
        Assert.Equal([-2, Id("Ċ"), Id("ĠĠĊ"), -7, Id("Ċ"), Id("Ċ"), Id("ĉ"), Id("Ċ"), -1], ids);
    }

    [Fact]
    public void ALetterAboveTheBasicPlaneEndsAWordAsOtherLettersDo()
    {
        // To .NET's regex "𠀀" is two surrogates, which " ?[^\s\p{L}\p{N}]+[\r\n]*" would take with the line break
        // after them, leaving " \n \n" as the piece; to the pattern it is a letter, and "\n \n \n" the piece. An emoji
        // is not a letter to either: " 😀\n" is one piece, and " \n" after it one that GenAI splits right.
        var sent = new List<string>();
        var ids = Load(Tokenizer()).Encode("𠀀\n \n \nx 😀\n \n", Recording(sent));
        Assert.Equal(["𠀀", "x 😀\n \n"], sent);
        Assert.Equal([-2, Id("Ċ"), Id("ĠĊ"), Id("ĠĊ"), -7], ids);
    }

    [Fact]
    public void AddedTokensAreSplitOffBeforeThePreTokenizerRuns()
    {
        // Without the split, "|>" would take the line feed after it (" ?[^\s\p{L}\p{N}]+[\r\n]*").
        var sent = new List<string>();
        var ids = Load(Tokenizer()).Encode("a<|end|>\n \nb", Recording(sent));
        Assert.Equal(["a<|end|>", "b"], sent);
        Assert.Equal([-8, Id("Ċ"), Id("ĠĊ"), -1], ids);
    }

    [Fact]
    public void ThePairOfLowestRankMergesFirstAndTiesMergeLeftmostFirst()
    {
        // "\n   \n" with "Ġ Ġ" alone: the leftmost pair merges, "Ċ" "ĠĠ" "Ġ" "Ċ", not "Ċ" "Ġ" "ĠĠ" "Ċ".
        var pieces = Load(Tokenizer(merges: [new JsonArray("Ġ", "Ġ")]));
        Assert.Equal([Id("Ċ"), Id("ĠĠ"), Id("Ġ"), Id("Ċ")], pieces.Encode("a\n   \n", Recording([]))[1..]);

        // "\n  \n" with "Ġ Ċ" ranked first: "Ċ" "Ġ" "ĠĊ", not "Ċ" "ĠĠ" "Ċ".
        pieces = Load(Tokenizer(merges: [new JsonArray("Ġ", "Ċ"), new JsonArray("Ġ", "Ġ")]));
        Assert.Equal([Id("Ċ"), Id("Ġ"), Id("ĠĊ")], pieces.Encode("a\n  \n", Recording([]))[1..]);
    }

    [Fact]
    public void MergesWrittenAsOneStringReadLikeMergesWrittenAsPairs()
    {
        var pieces = Load(Tokenizer(merges: [JsonValue.Create("Ġ Ġ"), JsonValue.Create("ĠĠ Ċ")]));
        Assert.Equal([-1, Id("Ċ"), Id("ĠĠĊ")], pieces.Encode("a\n  \n", Recording([])));
    }

    [Fact]
    public void APieceWithASymbolOutsideTheVocabularyIsLeftToGenAi()
    {
        // U+3000 is whitespace, but its bytes are not in this vocabulary.
        var sent = new List<string>();
        Load(Tokenizer()).Encode("a\n\u3000\nb", Recording(sent));
        Assert.Equal(["a\n\u3000\nb"], sent);
    }

    [Fact]
    public void APieceWithANextLineGoesToGenAiAlone()
    {
        // The pattern's pieces: "a", " ", "\u0085b", "\u0085", "'s", " \u0085\t". GenAI takes U+0085 for punctuation:
        // in one stretch it would join it with the space before it and with the apostrophe after it. "\u0085" and
        // " \u0085\t" are whitespace: encoded here.
        var sent = new List<string>();
        var ids = Load(Tokenizer()).Encode("a \u0085b\u0085's \u0085\t", Recording(sent));
        Assert.Equal(["a ", "\u0085b", "'s"], sent);
        Assert.Equal([-2, -2, Id("Â"), Id("ħ"), -2, Id("Ġ"), Id("Â"), Id("ħ"), Id("ĉ")], ids);

        // A whitespace piece with a symbol outside the vocabulary (U+3000's bytes) goes to GenAI alone as well.
        sent.Clear();
        Load(Tokenizer()).Encode("a\u3000\u0085", Recording(sent));
        Assert.Equal(["a", "\u3000\u0085"], sent);
    }

    [Fact]
    public void TextWithoutALineBreakGoesToGenAiWhole()
    {
        var sent = new List<string>();
        Load(Tokenizer()).Encode("a  b\t<|end|>", Recording(sent));
        Assert.Equal(["a  b\t<|end|>"], sent);
    }

    [Fact]
    public void AVeryLongPieceIsMergedWithoutQuadraticWork()
    {
        // 200,000 symbols: a pairwise rescan after every merge would take minutes; the queue takes milliseconds.
        var text = "a" + string.Concat(Enumerable.Repeat(" \n", 100_000));
        var ids = Load(Tokenizer()).Encode(text, Recording([]));
        Assert.Equal(1 + 100_000, ids.Length);
        Assert.All(ids[1..], id => Assert.Equal(Id("ĠĊ"), id));
    }

    [Theory]
    [InlineData("lstrip")]
    [InlineData("rstrip")]
    public void AnAddedTokenThatStripsWhitespaceLeavesEverythingToGenAi(string flag)
    {
        var json = Tokenizer();
        json["added_tokens"]![0]![flag] = true;
        Assert.Null(LineBreakPieces.FromTokenizerJson(Parse(json)));
    }

    [Fact]
    public void APreTokenizerOtherThanSplitsAndAPlainByteLevelLeavesEverythingToGenAi()
    {
        var json = Tokenizer();
        json["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true };
        Assert.Null(LineBreakPieces.FromTokenizerJson(Parse(json)));

        json = Tokenizer();
        json["model"]!["byte_fallback"] = true;
        Assert.Null(LineBreakPieces.FromTokenizerJson(Parse(json)));

        json = Tokenizer();
        json["pre_tokenizer"]!["pretokenizers"]![0]!["behavior"] = "MergedWithPrevious";
        Assert.Null(LineBreakPieces.FromTokenizerJson(Parse(json)));

        // A normalizer the caller does not apply (it applies NFC only) would change the pieces first.
        json = Tokenizer();
        json["normalizer"] = new JsonObject { ["type"] = "NFKC" };
        Assert.Null(LineBreakPieces.FromTokenizerJson(Parse(json)));
        json["normalizer"] = null;
        Assert.NotNull(LineBreakPieces.FromTokenizerJson(Parse(json)));
    }

    private static int Id(string symbols) => Array.IndexOf(s_vocabulary, symbols) is var id and >= 0 ? id : throw new ArgumentException(symbols);

    /// <summary>Stands in for GenAI: records each stretch and answers one negative id per character.</summary>
    private static Func<string, int[]> Recording(List<string> sent) => text =>
    {
        Assert.NotEmpty(text);
        sent.Add(text);
        return [-text.Length];
    };

    private static LineBreakPieces Load(JsonObject json) => LineBreakPieces.FromTokenizerJson(Parse(json)) ?? throw new InvalidOperationException("not taken");

    private static JsonElement Parse(JsonObject json) => JsonDocument.Parse(json.ToJsonString()).RootElement;

    private static JsonObject Tokenizer(JsonNode?[]? merges = null)
    {
        var vocab = new JsonObject();
        foreach (var symbols in s_vocabulary.Where(s => s != "<|end|>"))
        {
            vocab[symbols] = Id(symbols);
        }

        return new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = Id("<|end|>"), ["content"] = "<|end|>", ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true }),
            ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = QwenPattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["continuing_subword_prefix"] = string.Empty,
                ["end_of_word_suffix"] = string.Empty,
                ["byte_fallback"] = false,
                ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges ?? [new JsonArray("Ġ", "Ġ"), new JsonArray("ĠĠ", "Ċ"), new JsonArray("Ġ", "Ċ"), new JsonArray("Ċ", "Ġ")]),
            },
        };
    }
}
