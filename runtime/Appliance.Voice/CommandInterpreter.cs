using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Appliance.Contracts;
using Appliance.Profiles;

namespace Appliance.Voice;

/// <summary>
/// Turns an utterance into a <see cref="VoiceIntent"/> of the device's command schema: tokens
/// (<see cref="UtteranceText"/>), the sentence templates of its language (<see cref="TemplateMatcher"/>), then the
/// schema check (<see cref="IntentCheck"/>). Whatever is said, the result is an intent of the schema with slots of
/// their types and ranges, or <c>not_understood</c> with the reason. Immutable after construction; thread-safe.
/// </summary>
public sealed partial class CommandInterpreter
{
    private readonly Dictionary<string, TemplateMatcher> _matchers = new(StringComparer.Ordinal);

    /// <summary>Compiles the templates of every language of <paramref name="schema"/>.</summary>
    /// <param name="schema">A schema the profile loader accepted.</param>
    /// <param name="time">The clock that stamps results.</param>
    public CommandInterpreter(CommandSchema schema, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(schema);
        Schema = schema;
        Time = time;
        foreach (var language in schema.Intents.SelectMany(i => i.Templates.Keys).Distinct(StringComparer.Ordinal))
        {
            _matchers[language] = new TemplateMatcher(schema, language);
        }
    }

    /// <summary>The schema results are checked against.</summary>
    public CommandSchema Schema { get; }

    private TimeProvider Time { get; }

    /// <summary>Interprets <paramref name="text"/> said in <paramref name="language"/>.</summary>
    /// <param name="utteranceId">The utterance's id, carried into the result.</param>
    /// <param name="text">The utterance; one longer than <see cref="CommandSchema.MaxUtteranceChars"/> is <c>not_understood</c> without matching.</param>
    /// <param name="language">The language code; one without templates is <c>not_understood</c>.</param>
    /// <returns>The checked intent, or <c>not_understood</c> with its reason. Never throws for any text.</returns>
    public VoiceIntent Interpret(string utteranceId, string text, string language)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > Schema.MaxUtteranceChars)
        {
            return NotUnderstood(utteranceId, text, language, $"the utterance is {text.Length} characters; at most {Schema.MaxUtteranceChars} are interpreted");
        }

        var tokens = UtteranceText.Tokens(text, language);
        if (tokens.Count == 0)
        {
            return NotUnderstood(utteranceId, text, language, "the utterance is empty");
        }

        if (!_matchers.TryGetValue(language, out var matcher) || matcher.Match(tokens) is not { } match)
        {
            return NotUnderstood(utteranceId, text, language, "no sentence template matched");
        }

        if (IntentCheck.Problem(Schema, match.Intent.Name, match.Slots) is { } problem)
        {
            return NotUnderstood(utteranceId, text, language, problem);
        }

        return new VoiceIntent
        {
            UtteranceId = utteranceId,
            Transcript = text,
            Language = language,
            Intent = match.Intent.Name,
            Slots = match.Slots,
            Source = VoiceIntentSources.Template,
            Confidence = 1,
            Reply = Reply(match.Intent, match.Slots, language),
            At = Time.GetUtcNow(),
        };
    }

    private VoiceIntent NotUnderstood(string utteranceId, string text, string language, string reason) => new()
    {
        UtteranceId = utteranceId,
        Transcript = text,
        Language = language,
        Intent = CommandSchema.NotUnderstood,
        Slots = [],
        Source = VoiceIntentSources.None,
        Confidence = 0,
        Reply = Schema.NotUnderstoodReply.TryGetValue(language, out var reply) ? reply : CommandSchema.DefaultNotUnderstoodReply,
        Reason = reason,
        At = Time.GetUtcNow(),
    };

    private static string Reply(IntentSpec intent, JsonObject slots, string language)
    {
        var text = intent.Reply.TryGetValue(language, out var own) ? own : intent.Reply.TryGetValue("en", out var english) ? english : intent.Name;
        return Placeholder().Replace(text, m => slots[m.Groups[1].Value] is JsonValue value
            ? value.GetValueKind() == System.Text.Json.JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString()
            : m.Value);
    }

    [GeneratedRegex(@"\{([a-z0-9_]+)\}")]
    private static partial Regex Placeholder();
}
