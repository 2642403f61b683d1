using System.Text;

namespace Appliance.Profiles;

/// <summary>A part of a <see cref="SentenceTemplate"/>.</summary>
public abstract record TemplatePart;

/// <summary>A literal word (as written; the matcher normalises it as it does the utterance).</summary>
/// <param name="Text">The word.</param>
public sealed record TemplateWord(string Text) : TemplatePart;

/// <summary>A slot reference, <c>{name}</c>.</summary>
/// <param name="Name">The slot's name.</param>
public sealed record TemplateSlot(string Name) : TemplatePart;

/// <summary>Alternatives, <c>(a|b c)</c>; an optional part <c>[a]</c> is a choice with an empty alternative.</summary>
/// <param name="Alternatives">Each alternative's parts; an empty one matches nothing.</param>
public sealed record TemplateChoice(IReadOnlyList<IReadOnlyList<TemplatePart>> Alternatives) : TemplatePart;

/// <summary>
/// One sentence template of a voice intent, in the syntax home-automation users know from sentence-template
/// matchers: words separated by spaces, <c>(a|b)</c> for alternatives, <c>[a]</c> for optional words, and
/// <c>{slot}</c> for a slot of the intent; groups nest. For example <c>[set] [the] volume to {level}</c>.
/// Immutable; parse with <see cref="TryParse"/>.
/// </summary>
/// <param name="Text">The template as written.</param>
/// <param name="Parts">The parsed parts, in order.</param>
public sealed record SentenceTemplate(string Text, IReadOnlyList<TemplatePart> Parts)
{
    /// <summary>Parses <paramref name="text"/>. Never throws.</summary>
    /// <param name="text">The template.</param>
    /// <param name="template">The parsed template; null on failure.</param>
    /// <param name="error">Why the text is not a template; null on success.</param>
    /// <returns>Whether the text parsed and can match a non-empty sentence.</returns>
    public static bool TryParse(string text, out SentenceTemplate? template, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        template = null;
        var frames = new Stack<(char Close, List<TemplatePart> Outer, List<List<TemplatePart>> Alternatives)>();
        var current = new List<TemplatePart>();
        var word = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c) || c is '(' or ')' or '[' or ']' or '|' or '{' or '}')
            {
                EndWord(word, current);
            }

            switch (c)
            {
                case '(' or '[':
                    var first = new List<TemplatePart>();
                    frames.Push((c == '(' ? ')' : ']', current, [first]));
                    current = first;
                    break;
                case '|' when frames.Count == 0:
                    error = $"'|' at character {i + 1} is outside a group: write (a|b)";
                    return false;
                case '|':
                    current = [];
                    frames.Peek().Alternatives.Add(current);
                    break;
                case ')' or ']':
                    if (frames.Count == 0 || frames.Peek().Close != c)
                    {
                        error = $"'{c}' at character {i + 1} closes no {(c == ')' ? "'('" : "'['")}";
                        return false;
                    }

                    var (close, outer, alternatives) = frames.Pop();
                    var choices = alternatives.Select(a => (IReadOnlyList<TemplatePart>)a).ToList();
                    if (close == ']')
                    {
                        choices.Add([]);
                    }

                    outer.Add(new TemplateChoice(choices));
                    current = outer;
                    break;
                case '{':
                    var end = text.IndexOf('}', i + 1);
                    var name = end < 0 ? "" : text[(i + 1)..end].Trim();
                    if (end < 0 || name.Length == 0 || name.Any(ch => !(char.IsAsciiLetterLower(ch) || char.IsAsciiDigit(ch) || ch == '_')))
                    {
                        error = $"'{{' at character {i + 1} does not start a slot: write {{name}} with lower-case letters, digits and '_'";
                        return false;
                    }

                    current.Add(new TemplateSlot(name));
                    i = end;
                    break;
                case '}':
                    error = $"'}}' at character {i + 1} closes no slot";
                    return false;
                default:
                    if (!char.IsWhiteSpace(c))
                    {
                        word.Append(c);
                    }

                    break;
            }
        }

        EndWord(word, current);
        if (frames.Count > 0)
        {
            error = $"'{(frames.Peek().Close == ')' ? '(' : '[')}' is never closed";
            return false;
        }

        if (MinimumLength(current) == 0)
        {
            error = "can match an empty sentence: at least one word or slot must not be optional";
            return false;
        }

        template = new SentenceTemplate(text, current);
        error = null;
        return true;
    }

    /// <summary>The slots present on every way through the template.</summary>
    public IReadOnlySet<string> RequiredSlots() => Required(Parts);

    /// <summary>Every slot named anywhere in the template.</summary>
    public IReadOnlySet<string> NamedSlots()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        Collect(Parts, names);
        return names;
    }

    /// <summary>The most times one slot can occur on one way through the template.</summary>
    public int MostOccurrences(string slot) => Occurrences(Parts, slot);

    private static void EndWord(StringBuilder word, List<TemplatePart> parts)
    {
        if (word.Length > 0)
        {
            parts.Add(new TemplateWord(word.ToString()));
            word.Clear();
        }
    }

    private static int MinimumLength(IReadOnlyList<TemplatePart> parts) =>
        parts.Sum(p => p is TemplateChoice choice ? choice.Alternatives.Min(MinimumLength) : 1);

    private static HashSet<string> Required(IReadOnlyList<TemplatePart> parts)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in parts)
        {
            switch (part)
            {
                case TemplateSlot slot:
                    names.Add(slot.Name);
                    break;
                case TemplateChoice choice:
                    var common = Required(choice.Alternatives[0]);
                    foreach (var alternative in choice.Alternatives.Skip(1))
                    {
                        common.IntersectWith(Required(alternative));
                    }

                    names.UnionWith(common);
                    break;
            }
        }

        return names;
    }

    private static void Collect(IReadOnlyList<TemplatePart> parts, HashSet<string> names)
    {
        foreach (var part in parts)
        {
            if (part is TemplateSlot slot)
            {
                names.Add(slot.Name);
            }
            else if (part is TemplateChoice choice)
            {
                foreach (var alternative in choice.Alternatives)
                {
                    Collect(alternative, names);
                }
            }
        }
    }

    private static int Occurrences(IReadOnlyList<TemplatePart> parts, string slot) =>
        parts.Sum(p => p switch
        {
            TemplateSlot s when s.Name == slot => 1,
            TemplateChoice choice => choice.Alternatives.Max(a => Occurrences(a, slot)),
            _ => 0,
        });
}
