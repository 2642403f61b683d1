using System.Text;
using System.Text.Json;
using Appliance.Inference;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Appliance.Llm;

/// <summary>
/// Turns generated token ids into text as they come, for one generation: each call returns the characters that are
/// complete so far. Not thread-safe; the owner disposes it.
/// </summary>
internal interface ITokenTextStream : IDisposable
{
    /// <summary>The text the token completes (may be empty while a character is still being spelled out).</summary>
    string Decode(int token);

    /// <summary>The text still held back at the end of the generation (U+FFFD for each byte that never completed).</summary>
    string Flush();
}

/// <summary>
/// The bytes of each token of a byte-level BPE tokenizer (Qwen, DeepSeek-R1 and GPT-2 style <c>tokenizer.json</c>
/// whose decoder is <c>ByteLevel</c>): vocabulary entries are byte-level symbols, added tokens are their UTF-8
/// content, and added tokens marked <c>special</c> (begin and end of sentence, padding) give no text, as with the
/// Hugging Face decoders' <c>skip_special_tokens</c>; tags such as <c>&lt;think&gt;</c> are not special and are kept
/// for the reasoning splitter. A token may hold part of a character, so text is made by a UTF-8 decoder over the concatenated bytes, the
/// way the Hugging Face decoders do it: bytes a later token can complete are held back, bytes that can never form a
/// character become one U+FFFD per maximal invalid subsequence (the Unicode standard's practice, section 3.9, which
/// .NET's decoder follows), nothing else is lost. Immutable; thread-safe.
/// </summary>
internal sealed class ByteLevelVocabulary
{
    private static readonly UTF8Encoding s_replacing = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private readonly byte[][] _bytes;

    private ByteLevelVocabulary(byte[][] bytes) => _bytes = bytes;

    /// <summary>Tokens in the table (the highest id plus one).</summary>
    public int Count => _bytes.Length;

    /// <summary>
    /// Reads <c>tokenizer.json</c> in <paramref name="directory"/>; null when there is none or its decoder is not
    /// byte-level (the caller then decodes with the GenAI tokenizer).
    /// </summary>
    /// <exception cref="JsonException">The file is not valid JSON.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static ByteLevelVocabulary? TryLoad(string directory) => TokenizerFile.Read(directory)?.Vocabulary;

    /// <summary>The vocabulary of a parsed <c>tokenizer.json</c>; null when its decoder is not byte-level.</summary>
    public static ByteLevelVocabulary? FromTokenizerJson(JsonElement root)
    {
        if (!root.TryGetProperty("decoder", out var decoder) || !IsByteLevel(decoder)
            || !root.TryGetProperty("model", out var model) || !model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var entries = new Dictionary<int, byte[]>();
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.TryGetInt32(out var id))
            {
                // An entry outside the byte alphabet is taken as text, as the Hugging Face ByteLevel decoder does.
                entries[id] = ByteLevelSymbols.ToBytes(entry.Name) ?? Encoding.UTF8.GetBytes(entry.Name);
            }
        }

        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in added.EnumerateArray())
            {
                if (token.TryGetProperty("id", out var id) && id.TryGetInt32(out var value) && token.TryGetProperty("content", out var content))
                {
                    var special = token.TryGetProperty("special", out var flag) && flag.ValueKind == JsonValueKind.True;
                    entries[value] = special ? [] : Encoding.UTF8.GetBytes(content.GetString() ?? string.Empty);
                }
            }
        }

        var table = new byte[entries.Count == 0 ? 0 : entries.Keys.Max() + 1][];
        Array.Fill(table, []);
        foreach (var (id, bytes) in entries)
        {
            table[id] = bytes;
        }

        return new ByteLevelVocabulary(table);
    }

    /// <summary>The bytes of <paramref name="token"/>; empty for an id the tokenizer does not have.</summary>
    public ReadOnlySpan<byte> BytesOf(int token) => (uint)token < (uint)_bytes.Length ? _bytes[token] : [];

    /// <summary>The whole text of <paramref name="tokens"/> at once; equal to the concatenated output of a stream.</summary>
    public string Decode(IEnumerable<int> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            bytes.AddRange(BytesOf(token));
        }

        return s_replacing.GetString(bytes.ToArray());
    }

    /// <summary>A stream for one generation.</summary>
    public ITokenTextStream CreateStream() => new Stream(this);

    private static bool IsByteLevel(JsonElement decoder) =>
        decoder.ValueKind == JsonValueKind.Object && decoder.TryGetProperty("type", out var type) && type.GetString() switch
        {
            "ByteLevel" => true,
            "Sequence" => decoder.TryGetProperty("decoders", out var parts) && parts.ValueKind == JsonValueKind.Array && parts.EnumerateArray().Any(IsByteLevel),
            _ => false,
        };

    private sealed class Stream(ByteLevelVocabulary vocabulary) : ITokenTextStream
    {
        private readonly Decoder _utf8 = s_replacing.GetDecoder();
        private char[] _chars = new char[64];

        public string Decode(int token) => Convert(vocabulary.BytesOf(token), flush: false);

        public string Flush() => Convert([], flush: true);

        public void Dispose()
        {
        }

        private string Convert(ReadOnlySpan<byte> bytes, bool flush)
        {
            var needed = _utf8.GetCharCount(bytes, flush);
            if (needed > _chars.Length)
            {
                _chars = new char[Math.Max(needed, _chars.Length * 2)];
            }

            var count = _utf8.GetChars(bytes, _chars, flush);
            return new string(_chars, 0, count);
        }
    }
}

/// <summary>GenAI's own streaming decoder, for tokenizers that are not byte-level (e.g. SentencePiece models).</summary>
internal sealed class GenAiTokenTextStream(Tokenizer tokenizer) : ITokenTextStream
{
    private readonly TokenizerStream _stream = tokenizer.CreateStream();

    public string Decode(int token) => _stream.Decode(token);

    public string Flush() => string.Empty;

    public void Dispose() => _stream.Dispose();
}
