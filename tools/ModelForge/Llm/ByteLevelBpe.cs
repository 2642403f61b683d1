using System.Text;
using System.Text.RegularExpressions;

namespace Appliance.ModelForge.Llm;

/// <summary>
/// Learns byte-level BPE merges the way GPT-2 style tokenizers (and Qwen2's) are built: text is split with the
/// Qwen2 pre-tokenizer pattern, each piece is mapped to the printable byte alphabet, and the most frequent
/// adjacent pair is merged repeatedly. Ties are broken by ordinal order, so the result is deterministic.
/// </summary>
internal static partial class ByteLevelBpe
{
    /// <summary>The Qwen2 pre-tokenizer split pattern (as written in its tokenizer.json).</summary>
    public const string PreTokenizerPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly string[] s_byteToSymbol = BuildByteAlphabet();

    /// <summary>The 256 single-byte tokens, in id order (GPT-2's printable byte alphabet).</summary>
    public static IReadOnlyList<string> ByteSymbols => s_byteToSymbol;

    /// <summary>Learns <paramref name="mergeCount"/> merges (fewer if the corpus runs out of pairs).</summary>
    public static IReadOnlyList<(string Left, string Right)> LearnMerges(string corpus, int mergeCount)
    {
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match match in PreTokenizer().Matches(corpus.Normalize(NormalizationForm.FormC)))
        {
            var symbols = ToByteSymbols(match.Value);
            words[symbols] = words.GetValueOrDefault(symbols) + 1;
        }

        var segmented = words.Select(w => (Symbols: w.Key.Select(c => c.ToString()).ToList(), Count: w.Value)).ToList();
        var merges = new List<(string, string)>(mergeCount);
        while (merges.Count < mergeCount)
        {
            var pairCounts = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in segmented)
            {
                for (var i = 0; i < symbols.Count - 1; i++)
                {
                    var pair = (symbols[i], symbols[i + 1]);
                    pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + count;
                }
            }

            if (pairCounts.Count == 0)
            {
                break;
            }

            var best = pairCounts
                .OrderByDescending(p => p.Value)
                .ThenBy(p => p.Key.Item1, StringComparer.Ordinal)
                .ThenBy(p => p.Key.Item2, StringComparer.Ordinal)
                .First().Key;
            merges.Add(best);
            var merged = best.Item1 + best.Item2;
            foreach (var (symbols, _) in segmented)
            {
                for (var i = 0; i < symbols.Count - 1; i++)
                {
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                    {
                        symbols[i] = merged;
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }

        return merges;
    }

    private static string ToByteSymbols(string text)
    {
        var builder = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            builder.Append(s_byteToSymbol[b]);
        }

        return builder.ToString();
    }

    /// <summary>
    /// GPT-2's reversible byte-to-unicode table: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards.
    /// </summary>
    private static string[] BuildByteAlphabet()
    {
        var table = new string[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? ((char)b).ToString() : ((char)next++).ToString();
        }

        return table;
    }

    [GeneratedRegex(PreTokenizerPattern)]
    private static partial Regex PreTokenizer();
}
