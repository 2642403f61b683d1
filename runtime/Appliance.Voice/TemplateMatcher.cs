using System.Globalization;
using System.Text.Json.Nodes;
using Appliance.Profiles;

namespace Appliance.Voice;

/// <summary>An intent a template matched, with its slot values as found (checked later by <see cref="IntentCheck"/>).</summary>
/// <param name="Intent">The intent whose template matched.</param>
/// <param name="Slots">Each slot's value: a number for <c>integer</c> slots, the value's name for <c>enum</c>, the words for <c>text</c>.</param>
/// <param name="Template">The template that matched, as written in the profile.</param>
public sealed record TemplateMatch(IntentSpec Intent, JsonObject Slots, string Template);

/// <summary>
/// The deterministic first stage of voice commands: the schema's sentence templates of one language, compiled once,
/// matched against an utterance's tokens. The first intent in schema order with a template that takes every token
/// wins. An <c>integer</c> slot takes one number token of any value (the range is checked afterwards, so that "set the
/// freezer to minus 50" is refused with its reason rather than not heard); an <c>enum</c> slot takes one of its value's
/// phrases, longest first; a <c>text</c> slot takes 1 to <see cref="SlotSpec.MaxWords"/> words (a run of Han characters
/// is one word), fewest first.
/// Immutable after construction; thread-safe.
/// </summary>
public sealed class TemplateMatcher
{
    /// <summary>Steps one template may take on one utterance before it counts as no match: a bound on backtracking.</summary>
    private const int StepBudget = 20_000;

    private readonly List<(IntentSpec Intent, string Text, IReadOnlyList<Node> Nodes)> _templates = [];

    /// <summary>Compiles the templates of <paramref name="language"/> from <paramref name="schema"/>.</summary>
    /// <param name="schema">A schema that passed the profile checks (templates parse and name the intent's slots).</param>
    /// <param name="language">The language code whose templates and phrases are compiled.</param>
    /// <exception cref="ArgumentException">A template does not parse (the profile loader refuses such a schema first).</exception>
    public TemplateMatcher(CommandSchema schema, string language)
    {
        ArgumentNullException.ThrowIfNull(schema);
        Language = language;
        foreach (var intent in schema.Intents)
        {
            if (!intent.Templates.TryGetValue(language, out var templates))
            {
                continue;
            }

            foreach (var text in templates)
            {
                if (!SentenceTemplate.TryParse(text, out var template, out var error))
                {
                    throw new ArgumentException($"Template '{text}' of '{intent.Name}': {error}", nameof(schema));
                }

                _templates.Add((intent, text, Compile(template!.Parts, intent, language)));
            }
        }
    }

    /// <summary>The language this matcher's templates are in.</summary>
    public string Language { get; }

    /// <summary>How many templates were compiled.</summary>
    public int TemplateCount => _templates.Count;

    /// <summary>The first template that takes all of <paramref name="tokens"/>; null when none does.</summary>
    /// <param name="tokens">The utterance's tokens from <see cref="UtteranceText.Tokens"/> in <see cref="Language"/>.</param>
    public TemplateMatch? Match(IReadOnlyList<string> tokens) => Match(tokens, tokens);

    /// <summary>The first template that takes all of <paramref name="words"/>; a <c>text</c> slot's value is the words as written.</summary>
    internal TemplateMatch? Match(IReadOnlyList<Word> words) => Match([.. words.Select(w => w.Text)], [.. words.Select(w => w.Surface)]);

    private TemplateMatch? Match(IReadOnlyList<string> tokens, IReadOnlyList<string> surfaces)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count == 0)
        {
            return null;
        }

        var utterance = new Utterance(tokens, surfaces);
        foreach (var (intent, text, nodes) in _templates)
        {
            var slots = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
            if (Sequence(nodes, 0, 0, utterance, slots, new Steps(), end => end == tokens.Count))
            {
                var values = new JsonObject();
                foreach (var slot in intent.Slots)
                {
                    values[slot.Name] = slots[slot.Name].DeepClone();
                }

                return new TemplateMatch(intent, values, text);
            }
        }

        return null;
    }

    private delegate bool Continuation(int position);

    /// <summary>The steps one template has left on one utterance, shared by every branch of its search.</summary>
    private sealed class Steps
    {
        public int Left = StepBudget;
    }

    private static bool Sequence(IReadOnlyList<Node> nodes, int index, int position, Utterance utterance, Dictionary<string, JsonNode> slots, Steps steps, Continuation rest)
    {
        if (--steps.Left < 0)
        {
            return false;
        }

        if (index == nodes.Count)
        {
            return rest(position);
        }

        Continuation next = end => Sequence(nodes, index + 1, end, utterance, slots, steps, rest);
        return nodes[index] switch
        {
            Literal literal => UtteranceText.HasAt(utterance.Tokens, position, literal.Tokens) && next(position + literal.Tokens.Count),
            Choice choice => choice.Alternatives.Any(alternative => Sequence(alternative, 0, position, utterance, slots, steps, next)),
            SlotNode slot => slot.Take(utterance, position, slots, next),
            _ => false,
        };
    }

    private static List<Node> Compile(IReadOnlyList<TemplatePart> parts, IntentSpec intent, string language)
    {
        var nodes = new List<Node>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case TemplateWord word when UtteranceText.Tokens(word.Text, language) is { Count: > 0 } tokens:
                    nodes.Add(new Literal(tokens));
                    break;
                case TemplateChoice choice:
                    nodes.Add(new Choice(choice.Alternatives.Select(a => (IReadOnlyList<Node>)Compile(a, intent, language)).ToList()));
                    break;
                case TemplateSlot reference:
                    nodes.Add(SlotNode.For(intent.Slot(reference.Name) ?? throw new ArgumentException($"{{{reference.Name}}} names no slot of '{intent.Name}'", nameof(intent)), language));
                    break;
            }
        }

        return nodes;
    }

    /// <summary>An utterance's tokens, compared, and the words they were read from, for text slots.</summary>
    private sealed record Utterance(IReadOnlyList<string> Tokens, IReadOnlyList<string> Surfaces);

    private abstract record Node;

    private sealed record Literal(IReadOnlyList<string> Tokens) : Node;

    private sealed record Choice(IReadOnlyList<IReadOnlyList<Node>> Alternatives) : Node;

    private sealed record SlotNode(SlotSpec Slot, IReadOnlyList<(IReadOnlyList<string> Tokens, string Value)> Phrases) : Node
    {
        public static SlotNode For(SlotSpec slot, string language) => new(
            slot,
            (slot.Values ?? new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyList<string>>>())
                .SelectMany(value => value.Value.TryGetValue(language, out var phrases) ? phrases.Select(p => (UtteranceText.Tokens(p, language), value.Key)) : [])
                .Where(p => p.Item1.Count > 0)
                .OrderByDescending(p => p.Item1.Count)
                .ToList());

        public bool Take(Utterance utterance, int position, Dictionary<string, JsonNode> slots, Continuation next)
        {
            var tokens = utterance.Tokens;
            if (position >= tokens.Count)
            {
                return false;
            }

            switch (Slot.Type)
            {
                case SlotSpec.Types.WholeNumber:
                    return long.TryParse(tokens[position], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                        && Bind(slots, JsonValue.Create(number), () => next(position + 1));
                case SlotSpec.Types.Choice:
                    foreach (var (phrase, value) in Phrases)
                    {
                        if (UtteranceText.HasAt(tokens, position, phrase) && Bind(slots, JsonValue.Create(value), () => next(position + phrase.Count)))
                        {
                            return true;
                        }
                    }

                    return false;
                default:
                    // Words, not tokens: a run of Han characters is one word, as it is one word in the value.
                    var counted = 0;
                    for (var end = position + 1; end <= tokens.Count; end++)
                    {
                        if (!(UtteranceText.IsHan(tokens[end - 1][0]) && end - 1 > position && UtteranceText.IsHan(tokens[end - 2][0])))
                        {
                            counted++;
                        }

                        if (counted > Slot.MaxWords || end - position > IntentCheck.MaxTextChars)
                        {
                            return false;
                        }

                        var words = UtteranceText.Join(utterance.Surfaces.Skip(position).Take(end - position));
                        var taken = end;
                        if (Bind(slots, JsonValue.Create(words), () => next(taken)))
                        {
                            return true;
                        }
                    }

                    return false;
            }
        }

        private bool Bind(Dictionary<string, JsonNode> slots, JsonNode value, Func<bool> rest)
        {
            slots[Slot.Name] = value;
            if (rest())
            {
                return true;
            }

            slots.Remove(Slot.Name);
            return false;
        }
    }
}
