using System.Globalization;

namespace Appliance.Voice;

/// <summary>
/// Spelled-out whole numbers folded to digits, in the languages voice commands ship with: English ("minus twenty",
/// "one hundred and five"), Persian ("بیست و یک"), Arabic ("خمسة وعشرون", units before tens) and Chinese ("二十一",
/// "负二十"). A run of number words becomes one token of digits; words of other languages are kept as they are.
/// Stateless; thread-safe.
/// </summary>
internal static class NumberWords
{
    private enum Kind
    {
        /// <summary>0 to 9: one digit that a multiplier or a ten may follow.</summary>
        Unit,
        /// <summary>An addend: 10 to 19 and the tens, and the hundreds in Persian; units follow it only when it ends in 0.</summary>
        Addend,
        /// <summary>A multiplier of the units before it: ten (十), hundred.</summary>
        Multiplier,
        /// <summary>A multiplier of everything before it: thousand.</summary>
        Scale,
        /// <summary>"and" between the parts of one number.</summary>
        And,
    }

    /// <summary>One language's number words and the rules its numbers follow.</summary>
    /// <param name="Words">Each word's kind and value, by token.</param>
    /// <param name="Minus">The phrases that make a number negative, as tokens.</param>
    /// <param name="UnitsBeforeTens">Units come before tens ("five and twenty"): Arabic.</param>
    /// <param name="Digits">Units in a row are a number said digit by digit ("二零五" is 205), and a zero after a multiplier holds a place ("一百零五" is 105): Chinese.</param>
    private sealed record Language(IReadOnlyDictionary<string, (Kind Kind, long Value)> Words, IReadOnlyList<string[]> Minus, bool UnitsBeforeTens, bool Digits = false);

    private static readonly Dictionary<string, Language> Languages = new(StringComparer.Ordinal)
    {
        ["en"] = Build(
            false,
            "zero:0 one:1 two:2 three:3 four:4 five:5 six:6 seven:7 eight:8 nine:9",
            "ten:10 eleven:11 twelve:12 thirteen:13 fourteen:14 fifteen:15 sixteen:16 seventeen:17 eighteen:18 nineteen:19 twenty:20 thirty:30 forty:40 fifty:50 sixty:60 seventy:70 eighty:80 ninety:90",
            "hundred:100",
            "thousand:1000",
            "minus negative",
            "and"),
        ["fa"] = Build(
            false,
            "صفر:0 یک:1 دو:2 سه:3 چهار:4 پنج:5 شش:6 هفت:7 هشت:8 نه:9",
            "ده:10 یازده:11 دوازده:12 سیزده:13 چهارده:14 پانزده:15 شانزده:16 هفده:17 هجده:18 هیجده:18 نوزده:19 بیست:20 سی:30 چهل:40 پنجاه:50 شصت:60 هفتاد:70 هشتاد:80 نود:90 دویست:200 سیصد:300 چهارصد:400 پانصد:500 ششصد:600 هفتصد:700 هشتصد:800 نهصد:900",
            "صد:100",
            "هزار:1000",
            "منفی",
            "و"),
        ["ar"] = Build(
            true,
            "صفر:0 واحد:1 واحدة:1 احد:1 اثنان:2 اثنين:2 اثنا:2 اثنتان:2 اثنتين:2 ثلاثة:3 ثلاث:3 اربعة:4 اربع:4 خمسة:5 خمس:5 ستة:6 ست:6 سبعة:7 سبع:7 ثمانية:8 ثماني:8 ثمان:8 تسعة:9 تسع:9",
            "عشرة:10 عشر:10 عشرون:20 عشرين:20 ثلاثون:30 ثلاثين:30 اربعون:40 اربعين:40 خمسون:50 خمسين:50 ستون:60 ستين:60 سبعون:70 سبعين:70 ثمانون:80 ثمانين:80 تسعون:90 تسعين:90"
                + " مئتان:200 مئتين:200 مائتان:200 مائتين:200 ثلاثمئة:300 ثلاثمائة:300 اربعمئة:400 اربعمائة:400 خمسمئة:500 خمسمائة:500"
                + " ستمئة:600 ستمائة:600 سبعمئة:700 سبعمائة:700 ثمانمئة:800 ثمانمائة:800 تسعمئة:900 تسعمائة:900",
            "مئة:100 مائة:100",
            "الف:1000",
            "ناقص سالب",
            "و",
            attachedAnd: "و"),
        ["zh"] = Build(
            false,
            "零:0 一:1 二:2 两:2 三:3 四:4 五:5 六:6 七:7 八:8 九:9",
            "",
            "十:10 百:100",
            "千:1000",
            "负 零下",
            "",
            digits: true),
    };

    /// <summary>
    /// <paramref name="words"/> with every run of number words (and a minus word before digits) replaced by the
    /// number's digits. Numbers above 999,999,999 are left as words.
    /// </summary>
    /// <param name="words">Words from <see cref="UtteranceText"/>, before folding.</param>
    /// <param name="language">The language code; one without number words returns the words unchanged.</param>
    internal static List<Word> Fold(List<Word> words, string language)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (!Languages.TryGetValue(language, out var numbers))
        {
            return words;
        }

        var tokens = words.Select(w => w.Text).ToList();
        var folded = new List<Word>(tokens.Count);
        for (var i = 0; i < tokens.Count;)
        {
            var minus = numbers.Minus.FirstOrDefault(phrase => UtteranceText.HasAt(tokens, i, phrase))?.Length ?? 0;
            var negative = minus > 0 && i + minus < tokens.Count;
            var start = negative ? i + minus : i;
            if (negative && long.TryParse(tokens[start], NumberStyles.None, CultureInfo.InvariantCulture, out var digits))
            {
                folded.Add(Number(-digits));
                i = start + 1;
            }
            else if (Read(tokens, start, numbers) is { } number)
            {
                folded.Add(Number(negative ? -number.Value : number.Value));
                i = start + number.Length;
            }
            else
            {
                folded.Add(words[i]);
                i++;
            }
        }

        return folded;
    }

    private static Word Number(long value)
    {
        var digits = value.ToString(CultureInfo.InvariantCulture);
        return new Word(digits, digits);
    }

    /// <summary>The number spelled from <paramref name="start"/>, and how many tokens it takes; null when none starts there.</summary>
    private static (long Value, int Length)? Read(List<string> tokens, int start, Language language)
    {
        long total = 0, part = 0, unit = 0;
        var last = Kind.And;
        var end = start;
        for (var i = start; i < tokens.Count; i++)
        {
            if (!language.Words.TryGetValue(tokens[i], out var word))
            {
                break;
            }

            switch (word.Kind)
            {
                case Kind.Unit when word.Value == 0 && language.Digits && last is Kind.Multiplier or Kind.Scale
                    && i + 1 < tokens.Count && language.Words.TryGetValue(tokens[i + 1], out var after) && after.Kind == Kind.Unit:
                    end = i + 1;
                    continue; // a zero that holds a place: "一百零五" is 105
                case Kind.Unit when last is Kind.Unit && language.Digits && total == 0 && part == 0:
                    unit = (unit * 10) + word.Value; // said digit by digit: "二零五" is 205
                    break;
                case Kind.Unit when last is Kind.Unit || (last is Kind.Addend && !(part % 100 == 0 || (!language.UnitsBeforeTens && part % 10 == 0))):
                    return Result(total, part, unit, start, end); // "fifteen one" is two numbers; "twenty one" and "three hundred and five" are one
                case Kind.Unit:
                    unit = word.Value;
                    break;
                case Kind.Addend when (last is Kind.Addend && (part % 100 != 0 || word.Value >= 100)) || (last is Kind.Unit && !language.UnitsBeforeTens):
                    return Result(total, part, unit, start, end); // "two hundred fifty" in Persian is 200 + 50; "twenty twenty" is two numbers
                case Kind.Addend:
                    part += unit + word.Value;
                    unit = 0;
                    break;
                case Kind.Multiplier when last is Kind.Multiplier or Kind.Addend:
                    return Result(total, part, unit, start, end);
                case Kind.Multiplier:
                    part += (last is Kind.Unit ? unit : 1) * word.Value;
                    unit = 0;
                    break;
                case Kind.Scale when last is Kind.Scale || total > 0:
                    return Result(total, part, unit, start, end); // "one thousand two thousand" is two numbers
                case Kind.Scale:
                    total += Math.Max(1, part + unit) * word.Value;
                    part = unit = 0;
                    break;
                case Kind.And when i > start && i + 1 < tokens.Count && language.Words.TryGetValue(tokens[i + 1], out var next) && next.Kind != Kind.And:
                    // Joins two parts of one number ("one hundred and five", "بیست و یک"), judged as if it were not
                    // there: the word after it must be able to follow the word before it ("two and three" stays two
                    // numbers). It is consumed with the number only when that word is.
                    continue;
                default:
                    return Result(total, part, unit, start, end);
            }

            if (total + part + unit > 999_999_999)
            {
                return null;
            }

            last = word.Kind;
            end = i + 1;
        }

        return Result(total, part, unit, start, end);
    }

    private static (long Value, int Length)? Result(long total, long part, long unit, int start, int end) =>
        end > start ? (total + part + unit, end - start) : null;

    /// <summary>A language's number words from lists of <c>word:value</c> entries, one list per kind.</summary>
    /// <param name="unitsBeforeTens">See <see cref="Language.UnitsBeforeTens"/>.</param>
    /// <param name="units">0 to 9.</param>
    /// <param name="addends">Teens, tens, and whole hundreds where one word says them.</param>
    /// <param name="multipliers">Ten (十) and hundred.</param>
    /// <param name="scales">Thousand.</param>
    /// <param name="minus">The minus words or phrases, space-separated.</param>
    /// <param name="and">The standalone conjunction between parts of a number, if any.</param>
    /// <param name="attachedAnd">A conjunction written onto the next number word ("وخمسة", and five): each unit, addend and multiplier also comes with it.</param>
    /// <param name="digits">See <see cref="Language.Digits"/>.</param>
    private static Language Build(bool unitsBeforeTens, string units, string addends, string multipliers, string scales, string minus, string and, string? attachedAnd = null, bool digits = false)
    {
        var words = new Dictionary<string, (Kind, long)>(StringComparer.Ordinal);
        foreach (var (list, kind) in new[] { (units, Kind.Unit), (addends, Kind.Addend), (multipliers, Kind.Multiplier), (scales, Kind.Scale), (and, Kind.And) })
        {
            foreach (var entry in list.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var colon = entry.IndexOf(':', StringComparison.Ordinal);
                var value = colon < 0 ? 0 : long.Parse(entry[(colon + 1)..], CultureInfo.InvariantCulture);
                var word = colon < 0 ? entry : entry[..colon];
                // Keys are stored as the tokenizer writes them (folded letters, no marks), so either spelling matches.
                foreach (var spelling in kind is Kind.Unit or Kind.Addend or Kind.Multiplier && attachedAnd is not null ? [word, attachedAnd + word] : new[] { word })
                {
                    foreach (var token in UtteranceText.Split(spelling))
                    {
                        words[token.Text] = (kind, value);
                    }
                }
            }
        }

        // Minus words may be phrases ("零下", below zero, is two characters).
        var minusPhrases = minus.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => UtteranceText.Split(p).Select(w => w.Text).ToArray()).ToList();
        return new Language(words, minusPhrases, unitsBeforeTens, digits);
    }
}
