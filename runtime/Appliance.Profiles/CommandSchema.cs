using System.Text.Json.Serialization;

namespace Appliance.Profiles;

/// <summary>
/// The voice commands a device accepts, as the profile's <c>commands</c> object gives them: the only intents that can
/// ever reach the appliance, each with typed slots and the sentences that express it per language. The built-in
/// intent <see cref="NotUnderstood"/> is always there and may not be declared. Immutable once loaded.
/// </summary>
public sealed record CommandSchema
{
    /// <summary>The intent every utterance that matches nothing, or fails its checks, becomes.</summary>
    public const string NotUnderstood = "not_understood";

    /// <summary>The intents, in order of precedence: when two templates match, the earlier intent wins.</summary>
    public required IReadOnlyList<IntentSpec> Intents { get; init; }
    /// <summary>Seconds an intent marked <see cref="IntentSpec.Confirm"/> waits for its yes or no (1 to 120); 10 when absent.</summary>
    public int ConfirmationTimeoutSeconds { get; init; } = 10;
    /// <summary>The longest utterance taken, in characters (16 to 4096); a longer one is refused before matching. 500 when absent.</summary>
    public int MaxUtteranceChars { get; init; } = 500;
    /// <summary>
    /// End-pointing of spoken commands: the silence after speech, in milliseconds (100 to 3000), that ends an
    /// utterance once voice activity detection hears speech stop. 700 when absent.
    /// </summary>
    public int TrailingSilenceMs { get; init; } = 700;
    /// <summary>The longest spoken command, in seconds (1 to 30): listening stops there, and a longer clip is refused. 10 when absent.</summary>
    public int MaxUtteranceSeconds { get; init; } = 10;
    /// <summary>Spoken replies: null keeps replies as text only.</summary>
    public SpokenReplySettings? SpokenReplies { get; init; }
    /// <summary>
    /// Whether the appliance acknowledges the intents it takes on <c>voice/handled</c>, and what is said when it
    /// reports a failure or does not answer; null when it sends none (each reply is then said at once).
    /// </summary>
    public HandledSettings? Handled { get; init; }
    /// <summary>
    /// Phrases that stop a spoken reply while it plays, without the wake word, by language, in addition to the built-in
    /// ones ("stop", "be quiet"; "بس", "ساکت"; "توقف", "اسكت"; "停", "别说了" …); empty when absent.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> StopPhrases { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>Reply texts of <see cref="NotUnderstood"/> by language; absent languages get <see cref="DefaultNotUnderstoodReply"/>.</summary>
    public IReadOnlyDictionary<string, string> NotUnderstoodReply { get; init; } = new Dictionary<string, string>();

    /// <summary>The question of a confirmed intent that gives none in the utterance's language or in English.</summary>
    public const string DefaultConfirmPrompt = "Are you sure? Say yes or no.";

    /// <summary>Replies to a declined, expired or replaced confirmation by language; absent languages get <see cref="DefaultDeclinedReply"/>.</summary>
    public IReadOnlyDictionary<string, string> DeclinedReply { get; init; } = new Dictionary<string, string>();

    /// <summary>The reply to a declined confirmation in a language the profile gives none for.</summary>
    public const string DefaultDeclinedReply = "OK, I will leave it.";

    /// <summary>The reply of <see cref="NotUnderstood"/> in a language the profile gives none for.</summary>
    public const string DefaultNotUnderstoodReply = "Sorry, I did not understand that.";

    /// <summary>The intent named <paramref name="name"/>; null when the schema has none (<see cref="NotUnderstood"/> included).</summary>
    public IntentSpec? Find(string name) => Intents.FirstOrDefault(i => string.Equals(i.Name, name, StringComparison.Ordinal));
}

/// <summary>
/// The appliance's acknowledgements (<c>voice/handled</c>): for an intent that makes the appliance act, the reply waits
/// up to <see cref="TimeoutSeconds"/> for the appliance to say whether it worked.
/// </summary>
public sealed record HandledSettings
{
    /// <summary>Seconds a reply waits for the acknowledgement (1 to 30); 3 when absent.</summary>
    public int TimeoutSeconds { get; init; } = 3;
    /// <summary>Replies when the appliance reports a failure without a message of its own, by language; absent languages get <see cref="DefaultFailedReply"/>.</summary>
    public IReadOnlyDictionary<string, string> FailedReply { get; init; } = new Dictionary<string, string>();
    /// <summary>Replies when no acknowledgement comes in time, by language; absent languages get <see cref="DefaultNoAnswerReply"/>.</summary>
    public IReadOnlyDictionary<string, string> NoAnswerReply { get; init; } = new Dictionary<string, string>();

    /// <summary>The failed reply in a language the profile gives none for.</summary>
    public const string DefaultFailedReply = "Sorry, that did not work.";

    /// <summary>The no-answer reply in a language the profile gives none for.</summary>
    public const string DefaultNoAnswerReply = "The appliance did not answer.";
}

/// <summary>How replies are spoken: synthesized (espeak-ng), published on <c>voice/tts</c>, and played when an output device is named.</summary>
public sealed record SpokenReplySettings
{
    /// <summary>espeak-ng voice names by language code; languages not given take espeak-ng's voice for the language.</summary>
    public IReadOnlyDictionary<string, string> Voices { get; init; } = new Dictionary<string, string>();
    /// <summary>The ALSA playback device, for example <c>plughw:CARD=Device,DEV=0</c>, or <c>simulated</c> for the software speaker; null publishes replies without playing them.</summary>
    public string? OutputDevice { get; init; }
}

/// <summary>One intent of a <see cref="CommandSchema"/>: what the appliance can be asked to do.</summary>
public sealed record IntentSpec
{
    /// <summary>The intent's name as published (lower case, digits and underscores), unique in the schema.</summary>
    public required string Name { get; init; }
    /// <summary>What the intent does, in words; the voice model reads it.</summary>
    public string? Description { get; init; }
    /// <summary>Whether the intent is carried out only after a spoken yes (irreversible or costly actions).</summary>
    public bool Confirm { get; init; }
    /// <summary>The intent's slots; every one is required in a result. Empty when the intent takes none.</summary>
    public IReadOnlyList<SlotSpec> Slots { get; init; } = [];
    /// <summary>Sentence templates by language code (<c>en</c>, <c>fa</c>, <c>ar</c>, <c>zh</c>); see <see cref="SentenceTemplate"/> for the syntax.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<string>> Templates { get; init; }
    /// <summary>Reply texts by language, with <c>{slot}</c> replaced by the slot's value; absent languages fall back to English, then to the intent's name.</summary>
    public IReadOnlyDictionary<string, string> Reply { get; init; } = new Dictionary<string, string>();
    /// <summary>The question of a <see cref="Confirm"/> intent by language, with <c>{slot}</c> placeholders; absent languages fall back to English, then to <see cref="CommandSchema.DefaultConfirmPrompt"/>.</summary>
    public IReadOnlyDictionary<string, string> ConfirmPrompt { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// For a question about the appliance's state: the sensor reading that answers it, from the latest telemetry and
    /// never from a model. Null for intents that ask the appliance to act.
    /// </summary>
    public IntentAnswer? Answer { get; init; }

    /// <summary>The slot named <paramref name="name"/>; null when the intent has none.</summary>
    public SlotSpec? Slot(string name) => Slots.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.Ordinal));
}

/// <summary>
/// Where a question's answer comes from: one reading of the sensor an <c>enum</c> slot names (its values are the
/// profile's sensor ids, or its door ids for <c>open</c>).
/// </summary>
public sealed record IntentAnswer
{
    /// <summary>The reading: <c>temperature</c> (°C), <c>humidity</c> (% relative humidity) or <c>open</c> (a door's contact: open or closed).</summary>
    public required string Reading { get; init; }

    /// <summary>The <c>enum</c> slot whose value is the sensor's (or the door's) id.</summary>
    public required string SensorSlot { get; init; }

    /// <summary>
    /// For <c>open</c> only, and required there: how <c>{reading}</c> is said for each state, <c>open</c> and
    /// <c>closed</c>, by language (absent languages fall back to English, then to the state's name).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? States { get; init; }

    /// <summary>Replies when the sensor has given no reading yet, by language, with <c>{slot}</c> placeholders; absent languages fall back to English, then to <see cref="DefaultNoReadingReply"/>.</summary>
    public IReadOnlyDictionary<string, string> NoReadingReply { get; init; } = new Dictionary<string, string>();

    /// <summary>The reply without a reading in a language the profile gives none for.</summary>
    public const string DefaultNoReadingReply = "I have no reading from that sensor yet.";

    /// <summary>The placeholder of the reading in the intent's reply: <c>{reading}</c>, the value rounded to 0.1, or the door's state in words.</summary>
    public const string Placeholder = "reading";

    /// <summary>The reading of a climate sensor's temperature, in °C.</summary>
    public const string Temperature = "temperature";

    /// <summary>The reading of a climate sensor's relative humidity, in %.</summary>
    public const string Humidity = "humidity";

    /// <summary>The reading of a door's contact: 1 open, 0 closed.</summary>
    public const string DoorOpen = "open";

    /// <summary>The states of a door that <see cref="States"/> says in words.</summary>
    public static IReadOnlyList<string> DoorStates { get; } = ["open", "closed"];

    /// <summary>The readings a question may ask for.</summary>
    public static IReadOnlyList<string> Readings { get; } = [Temperature, Humidity, DoorOpen];

    /// <summary>The state of a door (one of <see cref="DoorStates"/>) whose <see cref="DoorOpen"/> reading is <paramref name="open"/>.</summary>
    /// <param name="open">1 open, 0 closed.</param>
    public static string DoorState(double open) => DoorStates[open != 0 ? 0 : 1];
}

/// <summary>One typed slot of an intent.</summary>
public sealed record SlotSpec
{
    /// <summary>The slot's name (lower case, digits and underscores), unique in its intent; templates refer to it as <c>{name}</c>.</summary>
    public required string Name { get; init; }
    /// <summary>The type: <c>integer</c> (with <see cref="Min"/> and <see cref="Max"/>), <c>enum</c> (with <see cref="Values"/>) or <c>text</c> (at most <see cref="MaxWords"/> words).</summary>
    public required string Type { get; init; }
    /// <summary>The smallest value of an <c>integer</c> slot, inclusive.</summary>
    public long? Min { get; init; }
    /// <summary>The largest value of an <c>integer</c> slot, inclusive.</summary>
    public long? Max { get; init; }
    /// <summary>The values of an <c>enum</c> slot: each value's name (published) with the phrases that say it, by language.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<string>>>? Values { get; init; }
    /// <summary>The most words a <c>text</c> slot takes (1 to 16); 4 when absent.</summary>
    public int MaxWords { get; init; } = 4;

    /// <summary>The slot types.</summary>
    public static class Types
    {
        /// <summary>A whole number within <see cref="Min"/> and <see cref="Max"/>, spoken as digits or words.</summary>
        public const string WholeNumber = "integer";
        /// <summary>One of <see cref="Values"/>.</summary>
        public const string Choice = "enum";
        /// <summary>A few words of free text (letters and digits only), such as a shopping-list item.</summary>
        public const string Words = "text";
    }

    /// <summary>Whether <see cref="Type"/> is <see cref="Types.WholeNumber"/>.</summary>
    [JsonIgnore]
    public bool IsInteger => Type == Types.WholeNumber;
}

/// <summary>Texts a profile gives per language (replies, state words), and how one is chosen.</summary>
public static class TextByLanguage
{
    /// <summary>The text of <paramref name="language"/>, else the English one, else <paramref name="fallback"/>.</summary>
    /// <param name="texts">Texts by language code; null when the profile gives none.</param>
    /// <param name="language">The language wanted.</param>
    /// <param name="fallback">The text when neither is given.</param>
    public static string Pick(IReadOnlyDictionary<string, string>? texts, string language, string fallback) =>
        texts?.GetValueOrDefault(language) ?? texts?.GetValueOrDefault("en") ?? fallback;
}
