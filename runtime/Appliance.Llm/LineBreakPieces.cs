using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Appliance.Inference;

namespace Appliance.Llm;

/// <summary>
/// Tokenizes the whitespace pieces in which a line break is followed by other whitespace the way the model's
/// <c>tokenizer.json</c> does, where GenAI's tokenizer (onnxruntime-extensions) splits them otherwise. The
/// pre-tokenizer pattern of Qwen2 and the models built on it takes a run such as "\n   \n" whole (its
/// <c>\s*[\r\n]+</c> branch); GenAI cuts it into "\n" and "   \n" (microsoft/onnxruntime-extensions#984), so text
/// with indented blank lines got other ids than the Hugging Face tokenizers and llama.cpp give. Each such piece is
/// encoded here with the file's byte-level BPE merges, and so is a whitespace piece with U+0085 (NEXT LINE), which
/// GenAI's splitter does not take for whitespace; any other piece with it goes to GenAI alone, where nothing next to it
/// can join it; the text between the pieces goes to GenAI in stretches cut at boundaries the pre-tokenizer makes
/// anyway. The pieces are found with .NET's regex, which reads UTF-16 code units, so a letter or digit above U+FFFF is
/// matched as two BMP letters or digits in its place (as two surrogates it would be punctuation to the pattern, and take
/// the line breaks after it). Taken only for the tokenizers whose parts it reproduces exactly
/// (<see cref="FromTokenizerJson"/>). Holds only the vocabulary entries and merges made of whitespace bytes.
/// Immutable; thread-safe.
/// </summary>
internal sealed class LineBreakPieces
{
    /// <summary>
    /// U+0085 NEXT LINE: whitespace to the pattern's <c>\s</c>, punctuation to GenAI's splitter, which so joins it with a
    /// space before it or an apostrophe after it (" \u0085y", "\u0085's") and splits the whitespace around it otherwise.
    /// A whitespace piece holding it is encoded here, any other goes to GenAI on its own.
    /// </summary>
    private const char NextLine = '\u0085';

    private static readonly bool[] s_whitespaceBytes = WhitespaceBytes();
    private readonly Regex[] _splits;
    private readonly AddedTokenSplitter _addedTokens;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<(string Left, string Right), int> _ranks;
    private readonly bool _ignoreMerges;

    private LineBreakPieces(Regex[] splits, AddedTokenSplitter addedTokens, Dictionary<string, int> ids, Dictionary<(string, string), int> ranks, bool ignoreMerges)
    {
        _splits = splits;
        _addedTokens = addedTokens;
        _ids = ids;
        _ranks = ranks;
        _ignoreMerges = ignoreMerges;
    }

    /// <summary>
    /// The encoder for a parsed <c>tokenizer.json</c>, or null when its parts are not all ones this class reproduces
    /// exactly (GenAI's tokenizer then encodes everything): no normalizer, or NFC (which the caller applies first); a
    /// BPE model without byte fallback, dropout or subword affixes; a pre-tokenizer that is one or more regex
    /// <c>Split</c> steps with <c>Isolated</c> behaviour followed by <c>ByteLevel</c> without its own regex or prefix
    /// space; added tokens that strip no whitespace.
    /// </summary>
    public static LineBreakPieces? FromTokenizerJson(JsonElement root)
    {
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object || Text(model, "type") != "BPE"
            || IsTrue(model, "byte_fallback") || !IsNullOrEmpty(model, "dropout") || !IsNullOrEmpty(model, "continuing_subword_prefix") || !IsNullOrEmpty(model, "end_of_word_suffix")
            || !model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object
            || !model.TryGetProperty("merges", out var merges) || merges.ValueKind != JsonValueKind.Array
            || !root.TryGetProperty("pre_tokenizer", out var preTokenizer) || SplitPatterns(preTokenizer) is not { Length: > 0 } patterns
            || (root.TryGetProperty("normalizer", out var normalizer) && !IsNoneOrNfc(normalizer)))
        {
            return null;
        }

        var addedTokens = new List<string>();
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in added.EnumerateArray())
            {
                if (IsTrue(token, "lstrip") || IsTrue(token, "rstrip") || IsTrue(token, "single_word"))
                {
                    return null;
                }

                if (Text(token, "content") is { } content)
                {
                    addedTokens.Add(content);
                }
            }
        }

        // A piece here is whitespace, so its merges only ever form symbols of whitespace bytes: only those are kept.
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (IsWhitespaceSymbols(entry.Name) && entry.Value.TryGetInt32(out var id))
            {
                ids[entry.Name] = id;
            }
        }

        var ranks = new Dictionary<(string, string), int>();
        var mergeCount = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            // Two forms: "left right", or ["left", "right"] (which allows spaces inside a symbol).
            (string, string)? pair = merge.ValueKind switch
            {
                JsonValueKind.String when merge.GetString()!.Split(' ') is [var left, var right] => (left, right),
                JsonValueKind.Array when merge.GetArrayLength() == 2 && merge[0].GetString() is { } left && merge[1].GetString() is { } right => (left, right),
                _ => null,
            };
            if (pair is not { } known)
            {
                return null;
            }

            var rank = mergeCount++;
            if (IsWhitespaceSymbols(known.Item1) && IsWhitespaceSymbols(known.Item2))
            {
                ranks.TryAdd(known, rank);
            }
        }

        var splits = new Regex[patterns.Length];
        try
        {
            for (var i = 0; i < patterns.Length; i++)
            {
                splits[i] = new Regex(patterns[i], RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
        }
        catch (ArgumentException)
        {
            return null; // a pattern in a syntax .NET does not read: GenAI encodes everything
        }

        return new LineBreakPieces(splits, new AddedTokenSplitter(addedTokens), ids, ranks, IsTrue(model, "ignore_merges"));
    }

    /// <summary>
    /// The token ids of <paramref name="text"/> (already normalized): the whitespace pieces GenAI splits otherwise from
    /// this class's BPE, every other stretch from <paramref name="encode"/>, in text order.
    /// </summary>
    /// <param name="text">The normalized text.</param>
    /// <param name="encode">GenAI's encoder; called once per stretch between such pieces and once for each other piece
    /// with a U+0085, never with an empty string.
    /// When a split pattern runs for more than a second on the text, it is called once more, for the whole text, whose
    /// ids are then returned.</param>
    public int[] Encode(string text, Func<string, int[]> encode)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(encode);
        if (text.AsSpan().IndexOfAny('\r', '\n', NextLine) < 0)
        {
            return encode(text);
        }

        try
        {
            return EncodePieces(text, encode);
        }
        catch (RegexMatchTimeoutException)
        {
            return encode(text);
        }
    }

    private int[] EncodePieces(string text, Func<string, int[]> encode)
    {
        var ids = new List<int>();
        var pending = 0; // start of the stretch not yet encoded
        foreach (var (start, length, _) in _addedTokens.Split(text))
        {
            foreach (var piece in Pieces(text, start, length))
            {
                var span = text.AsSpan(piece.Start, piece.Length);
                var pieceIds = IsWhitespaceSplitOtherwise(span) ? Bpe(span.ToString()) : null;
                if (pieceIds is null && !span.Contains(NextLine))
                {
                    continue;
                }

                if (piece.Start > pending)
                {
                    ids.AddRange(encode(text[pending..piece.Start]));
                }

                ids.AddRange(pieceIds ?? encode(span.ToString()));
                pending = piece.Start + piece.Length;
            }
        }

        if (pending < text.Length)
        {
            ids.AddRange(encode(text[pending..]));
        }

        return [.. ids];
    }

    /// <summary>
    /// <paramref name="text"/> with each letter or digit above U+FFFF in the stretch replaced by two BMP ones ("aa",
    /// "00"), which the pattern's <c>\p{L}</c> and <c>\p{N}</c> match as they match the character; same length, so the
    /// pieces' positions hold for the text itself.
    /// </summary>
    private static string WithBmpStandIns(string text, int start, int length)
    {
        if (!text.AsSpan(start, length).ContainsAnyInRange('\uD800', '\uDFFF'))
        {
            return text;
        }

        var chars = text.ToCharArray();
        for (var i = start; i < start + length - 1; i++)
        {
            if (char.IsSurrogatePair(chars[i], chars[i + 1]))
            {
                var standIn = Rune.GetUnicodeCategory(new Rune(chars[i], chars[i + 1])) switch
                {
                    UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => 'a',
                    UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => '0',
                    _ => '\0',
                };
                if (standIn != '\0')
                {
                    chars[i] = chars[i + 1] = standIn;
                }

                i++;
            }
        }

        return new string(chars);
    }

    /// <summary>
    /// Whitespace only, with a line break followed by other whitespace ("\n \n") or with a U+0085: the whitespace
    /// pieces GenAI splits otherwise.
    /// </summary>
    private static bool IsWhitespaceSplitOtherwise(ReadOnlySpan<char> piece)
    {
        var lineBreak = false;
        var splitOtherwise = false;
        foreach (var c in piece)
        {
            if (!char.IsWhiteSpace(c))
            {
                return false;
            }

            var isLineBreak = c is '\r' or '\n';
            splitOtherwise |= (lineBreak && !isLineBreak) || c == NextLine;
            lineBreak |= isLineBreak;
        }

        return splitOtherwise;
    }

    /// <summary>Whether every symbol of a vocabulary entry stands for a byte of some whitespace character's UTF-8 form.</summary>
    private static bool IsWhitespaceSymbols(string symbols)
    {
        foreach (var symbol in symbols)
        {
            if (!ByteLevelSymbols.TryGetByte(symbol, out var value) || !s_whitespaceBytes[value])
            {
                return false;
            }
        }

        return true;
    }

    private static bool[] WhitespaceBytes()
    {
        var bytes = new bool[256];
        Span<byte> utf8 = stackalloc byte[3];
        for (var c = 0; c <= char.MaxValue; c++)
        {
            if (char.IsWhiteSpace((char)c) && !char.IsSurrogate((char)c))
            {
                var length = Encoding.UTF8.GetBytes([(char)c], utf8);
                foreach (var b in utf8[..length])
                {
                    bytes[b] = true;
                }
            }
        }

        return bytes;
    }

    private static bool IsNoneOrNfc(JsonElement normalizer) =>
        normalizer.ValueKind == JsonValueKind.Null || Text(normalizer, "type") switch
        {
            "NFC" => true,
            "Sequence" => normalizer.TryGetProperty("normalizers", out var parts) && parts.ValueKind == JsonValueKind.Array && parts.EnumerateArray().All(IsNoneOrNfc),
            _ => false,
        };

    /// <summary>The pre-tokenizer's pieces of one stretch: each split step, in order, cuts every piece at its matches and keeps both.</summary>
    private List<(int Start, int Length)> Pieces(string text, int start, int length)
    {
        text = WithBmpStandIns(text, start, length);
        List<(int Start, int Length)> pieces = length > 0 ? [(start, length)] : [];
        foreach (var split in _splits)
        {
            var next = new List<(int, int)>(pieces.Count);
            foreach (var (pieceStart, pieceLength) in pieces)
            {
                var at = pieceStart;
                foreach (var match in split.EnumerateMatches(text.AsSpan(pieceStart, pieceLength)))
                {
                    if (match.Length == 0)
                    {
                        continue;
                    }

                    var matchStart = pieceStart + match.Index;
                    if (matchStart > at)
                    {
                        next.Add((at, matchStart - at));
                    }

                    next.Add((matchStart, match.Length));
                    at = matchStart + match.Length;
                }

                if (at < pieceStart + pieceLength)
                {
                    next.Add((at, pieceStart + pieceLength - at));
                }
            }

            pieces = next;
        }

        return pieces;
    }

    /// <summary>
    /// The byte-level BPE ids of one piece: its UTF-8 bytes as symbols, then the adjacent pair of lowest merge rank merged,
    /// leftmost first, until no pair has a rank. Null when a symbol is not in the vocabulary (GenAI then encodes the piece).
    /// </summary>
    private int[]? Bpe(string piece)
    {
        var bytes = Encoding.UTF8.GetBytes(piece);
        var symbols = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            symbols.Append(ByteLevelSymbols.SymbolOf(b));
        }

        var whole = symbols.ToString();
        if (_ignoreMerges && _ids.TryGetValue(whole, out var wholeId))
        {
            return [wholeId];
        }

        // The symbols as a linked list, and every adjacent pair with a rank in a queue ordered by (rank, position).
        var text = new string[whole.Length];
        var next = new int[whole.Length];
        var previous = new int[whole.Length];
        for (var i = 0; i < whole.Length; i++)
        {
            text[i] = whole[i].ToString();
            next[i] = i + 1 < whole.Length ? i + 1 : -1;
            previous[i] = i - 1;
        }

        var queue = new PriorityQueue<(int Left, int Right), (int Rank, int Position)>();
        void Offer(int left)
        {
            if (left >= 0 && next[left] is var right and >= 0 && _ranks.TryGetValue((text[left], text[right]), out var rank))
            {
                queue.Enqueue((left, right), (rank, left));
            }
        }

        for (var i = 0; i < whole.Length - 1; i++)
        {
            Offer(i);
        }

        while (queue.TryDequeue(out var pair, out var priority))
        {
            // Stale entries: a side was merged away, or the pair's symbols changed since it was queued.
            if (text[pair.Left] is null || text[pair.Right] is null || next[pair.Left] != pair.Right
                || !_ranks.TryGetValue((text[pair.Left], text[pair.Right]), out var rank) || rank != priority.Rank)
            {
                continue;
            }

            text[pair.Left] += text[pair.Right];
            text[pair.Right] = null!;
            next[pair.Left] = next[pair.Right];
            if (next[pair.Left] >= 0)
            {
                previous[next[pair.Left]] = pair.Left;
            }

            Offer(previous[pair.Left]);
            Offer(pair.Left);
        }

        var ids = new List<int>();
        for (var i = 0; i >= 0; i = next[i])
        {
            if (!_ids.TryGetValue(text[i], out var id))
            {
                return null;
            }

            ids.Add(id);
        }

        return [.. ids];
    }

    /// <summary>The regex patterns of a pre-tokenizer made of Isolated splits and a plain ByteLevel step; null for any other.</summary>
    private static string[]? SplitPatterns(JsonElement preTokenizer)
    {
        if (preTokenizer.ValueKind != JsonValueKind.Object || Text(preTokenizer, "type") != "Sequence"
            || !preTokenizer.TryGetProperty("pretokenizers", out var steps) || steps.ValueKind != JsonValueKind.Array
            || steps.EnumerateArray().ToList() is not [.. var splits, var byteLevel]
            || Text(byteLevel, "type") != "ByteLevel" || IsTrue(byteLevel, "use_regex") || IsTrue(byteLevel, "add_prefix_space"))
        {
            return null;
        }

        var patterns = new string[splits.Count];
        for (var i = 0; i < splits.Count; i++)
        {
            var split = splits[i];
            if (Text(split, "type") != "Split" || Text(split, "behavior") != "Isolated" || IsTrue(split, "invert")
                || !split.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object || Text(pattern, "Regex") is not { } regex)
            {
                return null;
            }

            patterns[i] = regex;
        }

        return patterns;
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool IsTrue(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static bool IsNullOrEmpty(JsonElement element, string name) =>
        !element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null || (value.ValueKind == JsonValueKind.String && value.GetString()!.Length == 0);
}
