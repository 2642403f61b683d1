using System.Globalization;
using System.Text;

namespace Appliance.Voice;

/// <summary>
/// Turns an utterance, a template word or a slot phrase into the tokens the matcher compares, the same way for all
/// three: full-width Latin letters and digits to their plain forms, lower case, combining marks dropped (Arabic short
/// vowels), Arabic letter variants folded to one form (hamza carriers, yeh, kaf, teh marbuta), every script's decimal
/// digits to ASCII digits, punctuation and symbols as separators, each Han character a token of its own (Chinese has
/// no spaces), and spelled-out numbers to digits (<see cref="NumberWords"/>). It needs no ICU data: the daemon runs
/// with invariant globalization, where <see cref="string.Normalize()"/> does nothing. Stateless; thread-safe.
/// </summary>
public static class UtteranceText
{
    /// <summary>The tokens of <paramref name="text"/> in <paramref name="language"/>.</summary>
    /// <param name="text">Any text; empty or all punctuation gives no tokens.</param>
    /// <param name="language">The language code, for its number words; one without number words keeps its words.</param>
    /// <returns>Lower-case tokens; a number is its digits, negative ones with a leading <c>-</c>.</returns>
    public static IReadOnlyList<string> Tokens(string text, string language) => [.. Words(text, language).Select(w => w.Text)];

    /// <summary>The words of <paramref name="text"/>: each token with the text it was read from (for <c>text</c> slot values).</summary>
    internal static List<Word> Words(string text, string language)
    {
        ArgumentNullException.ThrowIfNull(text);
        return NumberWords.Fold(Split(text), language);
    }

    /// <summary>The words before number words are folded.</summary>
    internal static List<Word> Split(string text)
    {
        var words = new List<Word>();
        var word = new StringBuilder();
        var surface = new StringBuilder();
        var lower = text.ToLowerInvariant();
        for (var i = 0; i < lower.Length; i++)
        {
            var c = Fold(lower[i]);
            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format || c is '\u0640' or '\'' or '\u2019')
            {
                continue; // marks, tatweel, zero-width joiners and apostrophes do not split a word, and are not kept
            }

            if (category == UnicodeCategory.DecimalDigitNumber)
            {
                if (word.Length > 0 && !char.IsAsciiDigit(word[^1]) && word[^1] != '-')
                {
                    End(word, surface, words); // "hdmi1" is "hdmi 1"
                }

                var digit = (char)('0' + (int)CharUnicodeInfo.GetDecimalDigitValue(c));
                word.Append(digit);
                surface.Append(digit);
            }
            else if (IsHan(c))
            {
                End(word, surface, words);
                words.Add(new Word(c.ToString(), c.ToString()));
            }
            else if (char.IsLetter(c))
            {
                if (word.Length > 0 && char.IsAsciiDigit(word[^1]))
                {
                    End(word, surface, words); // "20c" is "20 c"
                }

                word.Append(c);
                surface.Append(lower[i] is >= '\uFF01' and <= '\uFF5E' ? c : lower[i]); // full-width letters kept plain
            }
            else if (c == '-' && word.Length == 0 && i + 1 < lower.Length && char.IsDigit(Fold(lower[i + 1])))
            {
                word.Append('-');
                surface.Append('-');
            }
            else
            {
                End(word, surface, words);
            }
        }

        End(word, surface, words);
        return words;
    }

    private static void End(StringBuilder word, StringBuilder surface, List<Word> words)
    {
        if (word.Length > 0 && word.ToString() != "-")
        {
            words.Add(new Word(word.ToString(), surface.ToString()));
        }

        word.Clear();
        surface.Clear();
    }

    /// <summary>One letter to the form the matcher compares: full-width to plain, Arabic variants to one spelling.</summary>
    private static char Fold(char c) => c switch
    {
        >= '\uFF01' and <= '\uFF5E' => char.ToLowerInvariant((char)(c - 0xFEE0)), // full-width ASCII forms
        '\u3000' => ' ',                  // ideographic space
        '\u0623' or '\u0625' or '\u0622' or '\u0671' => '\u0627', // alef with hamza or madda, alef wasla → alef
        '\u0624' => '\u0648',             // waw with hamza → waw
        '\u0626' => '\u06CC',             // yeh with hamza → Farsi yeh
        '\u064A' or '\u0649' => '\u06CC', // Arabic yeh, alef maksura → Farsi yeh
        '\u0643' => '\u06A9',             // Arabic kaf → keheh
        '\u0629' => '\u0647',             // teh marbuta → heh
        _ => c,
    };

    /// <summary>
    /// Tokens joined back into text, as a <c>text</c> slot's value: one space between words, none between Han
    /// characters (<c>燕麦奶</c>, not <c>燕 麦 奶</c>).
    /// </summary>
    public static string Join(IEnumerable<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var text = new StringBuilder();
        string? previous = null;
        foreach (var token in tokens)
        {
            if (previous is not null && !(IsHan(previous[^1]) && IsHan(token[0])))
            {
                text.Append(' ');
            }

            text.Append(token);
            previous = token;
        }

        return text.ToString();
    }

    /// <summary>Whether <paramref name="phrase"/> stands in <paramref name="tokens"/> at <paramref name="position"/>, token for token.</summary>
    internal static bool HasAt(IReadOnlyList<string> tokens, int position, IReadOnlyList<string> phrase)
    {
        if (position < 0 || position + phrase.Count > tokens.Count)
        {
            return false;
        }

        for (var i = 0; i < phrase.Count; i++)
        {
            if (!string.Equals(tokens[position + i], phrase[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool IsHan(char c) => c is >= '\u4E00' and <= '\u9FFF' or >= '\u3400' and <= '\u4DBF' or >= '\uF900' and <= '\uFAFF';
}

/// <summary>One token of an utterance and the word it was read from, lower case: the Arabic <c>الحليب</c> is compared as <c>الحلیب</c> and kept as written.</summary>
/// <param name="Text">The token the matcher compares.</param>
/// <param name="Surface">The word as written (lower case, its letters not folded), for <c>text</c> slot values; a number's digits for a number.</param>
internal readonly record struct Word(string Text, string Surface);
