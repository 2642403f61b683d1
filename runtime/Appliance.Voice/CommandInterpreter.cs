using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Appliance.Contracts;
using Appliance.Profiles;

namespace Appliance.Voice;

/// <summary>
/// Turns an utterance into a <see cref="VoiceIntent"/> of the device's command schema: tokens
/// (<see cref="UtteranceText"/>), the sentence templates of its language (<see cref="TemplateMatcher"/>), for what no
/// template takes the voice model (<see cref="VoiceModelStage"/>), then the schema check (<see cref="IntentCheck"/>). Whatever is said, the result is an intent of the schema with slots of
/// their types and ranges, or <c>not_understood</c> with the reason. Immutable after construction; thread-safe.
/// </summary>
public sealed partial class CommandInterpreter
{
    private readonly Dictionary<string, TemplateMatcher> _matchers = new(StringComparer.Ordinal);

    private readonly ISensorReadings? _readings;

    private readonly Dictionary<string, HashSet<string>> _stopPhrases = new(StringComparer.Ordinal);

    /// <summary>Compiles the templates of every language of <paramref name="schema"/>.</summary>
    /// <param name="schema">A schema the profile loader accepted.</param>
    /// <param name="time">The clock that stamps results.</param>
    /// <param name="readings">The latest sensor readings, which answer questions; null answers each with its no-reading reply.</param>
    public CommandInterpreter(CommandSchema schema, TimeProvider time, ISensorReadings? readings = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        Schema = schema;
        Time = time;
        _readings = readings;
        foreach (var language in schema.Intents.SelectMany(i => i.Templates.Keys).Distinct(StringComparer.Ordinal))
        {
            _matchers[language] = new TemplateMatcher(schema, language);
        }

        foreach (var language in BuiltInStopPhrases.Keys.Concat(schema.StopPhrases.Keys).Distinct(StringComparer.Ordinal))
        {
            var builtIn = BuiltInStopPhrases.TryGetValue(language, out var phrases) ? phrases.Split('|') : [];
            _stopPhrases[language] = PhraseSet([.. builtIn, .. schema.StopPhrases.GetValueOrDefault(language) ?? []]);
        }
    }

    /// <summary>The schema results are checked against.</summary>
    public CommandSchema Schema { get; }

    private TimeProvider Time { get; }

    /// <summary>The reason of an utterance no sentence template takes: the one the voice model may still interpret.</summary>
    public const string NoTemplateMatched = "no sentence template matched";

    /// <summary>Interprets <paramref name="text"/> said in <paramref name="language"/> with the sentence templates alone.</summary>
    /// <param name="utteranceId">The utterance's id, carried into the result.</param>
    /// <param name="text">The utterance; one longer than <see cref="CommandSchema.MaxUtteranceChars"/> is <c>not_understood</c> without matching.</param>
    /// <param name="language">The language code; one without templates is <c>not_understood</c>.</param>
    /// <returns>The checked intent, or <c>not_understood</c> with its reason. Never throws for any text.</returns>
    public VoiceIntent Interpret(string utteranceId, string text, string language)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > Schema.MaxUtteranceChars)
        {
            return NotUnderstood(utteranceId, text, language, VoiceIntentSources.None, $"the utterance is {text.Length} characters; at most {Schema.MaxUtteranceChars} are interpreted");
        }

        var words = UtteranceText.Words(text, language);
        if (words.Count == 0)
        {
            return NotUnderstood(utteranceId, text, language, VoiceIntentSources.None, "the utterance is empty");
        }

        // Courtesies around the command are set aside first, so that "we need milk please" adds milk; the utterance
        // as said is tried second, for templates that spell a courtesy out.
        if (!_matchers.TryGetValue(language, out var matcher) || (matcher.Match(WithoutCourtesies(words, language)) ?? matcher.Match(words)) is not { } match)
        {
            return NotUnderstood(utteranceId, text, language, VoiceIntentSources.None, NoTemplateMatched);
        }

        return IntentCheck.Problem(Schema, match.Intent.Name, match.Slots) is { } problem
            ? NotUnderstood(utteranceId, text, language, VoiceIntentSources.None, problem)
            : Understood(utteranceId, text, language, match.Intent, match.Slots, VoiceIntentSources.Template, 1);
    }

    /// <summary>
    /// Interprets <paramref name="text"/> with the sentence templates first, and only when none takes it, with the voice
    /// model: its answer must pass <see cref="IntentCheck"/> like any other, or the utterance is <c>not_understood</c>.
    /// </summary>
    /// <param name="utteranceId">The utterance's id, carried into the result.</param>
    /// <param name="text">The utterance.</param>
    /// <param name="language">The language code.</param>
    /// <param name="model">The voice model stage; null interprets with the templates alone.</param>
    /// <param name="cancellationToken">Stops the voice model.</param>
    /// <returns>The checked intent, or <c>not_understood</c> with its reason. Throws only when cancelled.</returns>
    public async Task<VoiceIntent> InterpretAsync(string utteranceId, string text, string language, VoiceModelStage? model, CancellationToken cancellationToken)
    {
        var byTemplate = Interpret(utteranceId, text, language);
        if (model is null || byTemplate.Reason != NoTemplateMatched)
        {
            return byTemplate;
        }

        var proposal = await model.ProposeAsync(text, _readings?.Snapshot() ?? [], cancellationToken).ConfigureAwait(false);
        if (proposal is not { Intent: { } name, Failure: null })
        {
            return NotUnderstood(utteranceId, text, language, VoiceIntentSources.Llm, proposal.Failure!);
        }

        if (IntentCheck.Problem(Schema, name, proposal.Slots) is { } problem)
        {
            return NotUnderstood(utteranceId, text, language, VoiceIntentSources.Llm, $"the voice model's answer fails the schema: {problem}");
        }

        return Schema.Find(name) is { } intent
            ? Understood(utteranceId, text, language, intent, proposal.Slots, VoiceIntentSources.Llm, null)
            : NotUnderstood(utteranceId, text, language, VoiceIntentSources.Llm, "the voice model found no intent of this device in it");
    }

    private VoiceIntent Understood(string utteranceId, string text, string language, IntentSpec intent, JsonObject slots, string source, double? confidence) => new()
    {
        UtteranceId = utteranceId,
        Transcript = text,
        Language = language,
        Intent = intent.Name,
        Slots = slots,
        Source = source,
        Confidence = confidence,
        Reply = intent.Confirm ? Render(intent, intent.ConfirmPrompt, slots, language, CommandSchema.DefaultConfirmPrompt)
            : intent.Answer is { } answer ? Answered(intent, answer, slots, language)
            : Render(intent, intent.Reply, slots, language, intent.Name),
        Confirmation = intent.Confirm ? VoiceConfirmations.Pending : null,
        At = Time.GetUtcNow(),
    };

    /// <summary>
    /// <paramref name="pending"/> as its confirmation ended: with <paramref name="outcome"/>, stamped now, and the
    /// intent's own reply when confirmed, else the schema's declined reply.
    /// </summary>
    /// <param name="pending">An intent whose confirmation was pending.</param>
    /// <param name="outcome">One of <see cref="VoiceConfirmations"/> other than pending.</param>
    public VoiceIntent Conclude(VoiceIntent pending, string outcome)
    {
        ArgumentNullException.ThrowIfNull(pending);
        var reply = outcome == VoiceConfirmations.Confirmed && Schema.Find(pending.Intent) is { } spec
            ? Render(spec, spec.Reply, pending.Slots, pending.Language, spec.Name)
            : Schema.DeclinedReply.TryGetValue(pending.Language, out var declined) ? declined : CommandSchema.DefaultDeclinedReply;
        return pending with { Confirmation = outcome, Reply = reply, At = Time.GetUtcNow() };
    }

    /// <summary>Whether <paramref name="text"/> is a yes (true) or a no (false) in <paramref name="language"/>; null when it is neither.</summary>
    /// <param name="text">The utterance.</param>
    /// <param name="language">Its language; one without its own words is read with the English ones.</param>
    public static bool? YesOrNo(string text, string language)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = string.Join(' ', UtteranceText.Split(text).Select(w => w.Text));
        var (yes, no) = Answers.TryGetValue(language, out var words) ? words : Answers["en"];
        return yes.Contains(tokens) ? true : no.Contains(tokens) ? false : null;
    }

    /// <summary>
    /// Whether <paramref name="text"/>, heard while a spoken reply plays, asks it to stop: the whole text (punctuation and
    /// case aside) is a stop phrase of <paramref name="language"/> (the built-in ones, then the schema's
    /// <see cref="CommandSchema.StopPhrases"/>), or of English.
    /// </summary>
    /// <param name="text">What was heard.</param>
    /// <param name="language">The language it was heard in.</param>
    public bool IsStop(string text, string language)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = string.Join(' ', UtteranceText.Split(text).Select(w => w.Text));
        return tokens.Length > 0
            && ((_stopPhrases.TryGetValue(language, out var phrases) && phrases.Contains(tokens)) || _stopPhrases["en"].Contains(tokens));
    }

    /// <summary>The built-in stop phrases by language, separated by <c>|</c>.</summary>
    private static readonly Dictionary<string, string> BuiltInStopPhrases = new(StringComparer.Ordinal)
    {
        ["en"] = "stop|stop it|stop talking|be quiet|quiet|shut up|enough|that's enough|ok stop|okay stop|cancel",
        ["fa"] = "بس|بسه|بس کن|ساکت|ساکت شو|کافیه|کافی است|تمومش کن",
        ["ar"] = "توقف|قف|اسكت|كفى|كفاية|بس",
        ["zh"] = "停|停止|停下|别说了|安静|闭嘴|够了",
    };

    /// <summary>
    /// <paramref name="words"/> without the courtesies people wrap a command in ("please", "can you", "thanks"; "لطفا";
    /// "من فضلك"; "请", "帮我"), at its start and its end, so that templates need not spell them out.
    /// </summary>
    internal static IReadOnlyList<Word> WithoutCourtesies(IReadOnlyList<Word> words, string language)
    {
        if (!Courtesies.TryGetValue(language, out var courtesy))
        {
            return words;
        }

        var tokens = words.Select(w => w.Text).ToList();
        int start = 0, end = tokens.Count;
        for (var trimmed = true; trimmed && start < end;)
        {
            trimmed = false;
            foreach (var phrase in courtesy.Leading.Where(p => p.Length <= end - start && UtteranceText.HasAt(tokens, start, p)))
            {
                start += phrase.Length;
                trimmed = true;
                break;
            }

            foreach (var phrase in courtesy.Trailing.Where(p => p.Length <= end - start && UtteranceText.HasAt(tokens, end - p.Length, p)))
            {
                end -= phrase.Length;
                trimmed = true;
                break;
            }
        }

        return [.. words.Skip(start).Take(end - start)];
    }

    /// <summary>Courtesies around a command, by language: phrases at its start and at its end, as tokens.</summary>
    private static readonly Dictionary<string, (string[][] Leading, string[][] Trailing)> Courtesies = new(StringComparer.Ordinal)
    {
        ["en"] = (TokenPhrases("please|can you|could you|would you|will you|can you please|could you please|hey|ok|okay|kindly|i want you to|i would like you to|i'd like you to", "en"), TokenPhrases("please|thanks|thank you|for me|now|right now|thanks a lot", "en")),
        ["fa"] = (TokenPhrases("لطفا|لطفاً|میشه|می شه|می‌شه|خواهش میکنم", "fa"), TokenPhrases("لطفا|لطفاً|ممنون|مرسی|ممنونم", "fa")),
        ["ar"] = (TokenPhrases("من فضلك|لو سمحت|رجاء|رجاءً|هل يمكنك|ممكن", "ar"), TokenPhrases("من فضلك|لو سمحت|شكرا|شكراً", "ar")),
        ["zh"] = (TokenPhrases("请|请你|帮我|麻烦|麻烦你|你能|能不能", "zh"), TokenPhrases("吧|谢谢|好吗|一下", "zh")),
    };

    private static string[][] TokenPhrases(string phrases, string language) =>
        [.. phrases.Split('|').Select(p => UtteranceText.Tokens(p, language).ToArray()).OrderByDescending(p => p.Length)];

    /// <summary>The phrases that answer a confirmation, by language, as tokens joined by spaces.</summary>
    private static readonly Dictionary<string, (HashSet<string> Yes, HashSet<string> No)> Answers = new(StringComparer.Ordinal)
    {
        ["en"] = (Phrases("yes|yeah|yep|sure|ok|okay|yes please|do it|yes do it|confirm|go ahead|correct|that's right"), Phrases("no|nope|no thanks|no thank you|cancel|don't|do not|no don't|stop|never mind")),
        ["fa"] = (Phrases("بله|بلی|آره|باشه|حتما|درسته|تایید"), Phrases("نه|خیر|نخیر|لغو|نه ممنون|ولش کن")),
        ["ar"] = (Phrases("نعم|أجل|حسنا|موافق|تمام|أكيد|نعم من فضلك"), Phrases("لا|كلا|إلغاء|لا شكرا|توقف")),
        ["zh"] = (Phrases("是|是的|好|好的|对|对的|确定|可以|行"), Phrases("不|不要|不是|取消|算了|不用")),
    };

    private static HashSet<string> Phrases(string phrases) => PhraseSet(phrases.Split('|'));

    private static HashSet<string> PhraseSet(IEnumerable<string> phrases) =>
        phrases.Select(p => string.Join(' ', UtteranceText.Split(p).Select(w => w.Text))).Where(p => p.Length > 0).ToHashSet(StringComparer.Ordinal);

    private VoiceIntent NotUnderstood(string utteranceId, string text, string language, string source, string reason) => new()
    {
        UtteranceId = utteranceId,
        Transcript = text,
        Language = language,
        Intent = CommandSchema.NotUnderstood,
        Slots = [],
        Source = source,
        Confidence = source == VoiceIntentSources.None ? 0 : null,
        Reply = Schema.NotUnderstoodReply.TryGetValue(language, out var reply) ? reply : CommandSchema.DefaultNotUnderstoodReply,
        Reason = reason,
        At = Time.GetUtcNow(),
    };

    /// <summary>
    /// The reply to a question: the latest reading of the sensor its slot names (a number rounded to 0.1, or a door's
    /// state in the words of <see cref="IntentAnswer.States"/>), or its no-reading reply.
    /// </summary>
    private string Answered(IntentSpec intent, IntentAnswer answer, JsonObject slots, string language)
    {
        var sensor = slots[answer.SensorSlot]?.GetValue<string>();
        if (sensor is null || _readings?.Latest(sensor, answer.Reading) is not { } reading)
        {
            return Render(intent, answer.NoReadingReply, slots, language, IntentAnswer.DefaultNoReadingReply);
        }

        string said;
        if (answer.States is { } states)
        {
            var state = IntentAnswer.DoorState(reading);
            said = TextByLanguage.Pick(states.GetValueOrDefault(state), language, state);
        }
        else
        {
            said = Math.Round(reading, 1).ToString(CultureInfo.InvariantCulture);
        }

        return Render(intent, intent.Reply, slots, language, intent.Name, said);
    }

    /// <summary>
    /// One of <paramref name="texts"/> (the language's, else English, else <paramref name="fallback"/>) with its
    /// <c>{slot}</c> placeholders filled: a number as digits, an enum value as its first phrase in the language of the
    /// text (else in English, else its name), words as said, and <c>{reading}</c> with <paramref name="reading"/>.
    /// </summary>
    private static string Render(IntentSpec intent, IReadOnlyDictionary<string, string> texts, JsonObject slots, string language, string fallback, string? reading = null)
    {
        var (text, textLanguage) = texts.TryGetValue(language, out var own) ? (own, language) : texts.TryGetValue("en", out var english) ? (english, "en") : (fallback, "en");
        return Placeholder().Replace(text, m => slots[m.Groups[1].Value] is JsonValue value
            ? value.GetValueKind() == System.Text.Json.JsonValueKind.String ? Said(intent.Slot(m.Groups[1].Value), value.GetValue<string>(), textLanguage) : value.ToJsonString()
            : m.Groups[1].Value == IntentAnswer.Placeholder && reading is not null ? reading
            : m.Value);
    }

    /// <summary>How an enum value is said in <paramref name="language"/>: its first phrase there, else in English, else its name.</summary>
    private static string Said(SlotSpec? slot, string value, string language) =>
        slot?.Values?.GetValueOrDefault(value) is { } phrases && (phrases.GetValueOrDefault(language) ?? phrases.GetValueOrDefault("en")) is { Count: > 0 } said
            ? said[0]
            : value;

    [GeneratedRegex(@"\{([a-z0-9_]+)\}")]
    private static partial Regex Placeholder();
}
