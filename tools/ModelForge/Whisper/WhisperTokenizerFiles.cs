using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.ModelForge.Whisper;

/// <summary>
/// A small stand-in for Whisper's tokenizer, in the Hugging Face <c>tokenizer.json</c> layout: a byte-level BPE
/// whose 256 byte symbols hold ids 0-255, fillers up to id 50256 (each a short made-up word, so decoded random
/// tokens read as text), no merges, and every special and timestamp token at its real id. Nothing is copied from
/// the released tokenizer.
/// </summary>
internal static class WhisperTokenizerFiles
{
    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Write(string directory)
    {
        var vocab = new JsonObject();
        var byteSymbols = ByteSymbols();
        for (var b = 0; b < 256; b++)
        {
            vocab[byteSymbols[b].ToString()] = b;
        }

        for (var id = 256; id < WhisperVocabulary.EndOfText; id++)
        {
            vocab[Filler(id)] = id;
        }

        var added = new JsonArray();
        foreach (var (id, content, special) in WhisperVocabulary.AddedTokens())
        {
            added.Add(new JsonObject
            {
                ["id"] = id,
                ["content"] = content,
                ["single_word"] = false,
                ["lstrip"] = false,
                ["rstrip"] = false,
                ["normalized"] = !special,
                ["special"] = special,
            });
        }

        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel.DeepClone(),
            ["post_processor"] = null,
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(),
            },
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToJsonString(s_options));

        var config = new JsonObject
        {
            ["tokenizer_class"] = "WhisperTokenizer",
            ["model_max_length"] = 1024,
            ["bos_token"] = "<|endoftext|>",
            ["eos_token"] = "<|endoftext|>",
            ["unk_token"] = "<|endoftext|>",
            ["pad_token"] = "<|endoftext|>",
            ["add_prefix_space"] = false,
            ["errors"] = "replace",
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>GPT-2's printable stand-in for each byte (the "Ġ" for space convention).</summary>
    internal static char[] ByteSymbols()
    {
        var symbols = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            symbols[b] = printable ? (char)b : (char)next++;
        }

        return symbols;
    }

    /// <summary>A pronounceable made-up word with a leading space symbol (Ġ, byte-level form), unique per id (256 to 50256).</summary>
    internal static string Filler(int id)
    {
        const string Consonants = "bdfgklmnprstvz";
        const string Vowels = "aeiou";
        var word = new System.Text.StringBuilder("Ġ");
        for (var n = id; n > 0; n /= Consonants.Length * Vowels.Length)
        {
            var syllable = n % (Consonants.Length * Vowels.Length);
            word.Append(Consonants[syllable / Vowels.Length]).Append(Vowels[syllable % Vowels.Length]);
        }

        return word.ToString();
    }
}
