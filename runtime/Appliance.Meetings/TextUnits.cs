using System.Text.RegularExpressions;

namespace Appliance.Meetings;

/// <summary>Sentence and word splitting shared by the summarizer and the chunker.</summary>
internal static partial class TextUnits
{
    public static List<string> Sentences(string text)
    {
        var sentences = new List<string>();
        foreach (var part in SentenceBreak().Split(text))
        {
            var sentence = part.Trim();
            if (sentence.Length > 0)
            {
                sentences.Add(sentence);
            }
        }

        return sentences;
    }

    public static IEnumerable<string> Words(string sentence) =>
        WordPattern().Matches(sentence).Select(m => m.Value.ToLowerInvariant());

    [GeneratedRegex(@"(?<=[.!?…])\s+|\r?\n+", RegexOptions.CultureInvariant)]
    private static partial Regex SentenceBreak();

    [GeneratedRegex(@"\p{L}[\p{L}\p{N}'’-]*|\p{N}+", RegexOptions.CultureInvariant)]
    private static partial Regex WordPattern();
}
