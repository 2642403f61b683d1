using System.Text.Json;
using System.Text.Json.Serialization;
using Json.Schema;

namespace Appliance.Meetings;

/// <summary>Who made a summary.</summary>
public enum SummarySource
{
    /// <summary>A language model wrote it.</summary>
    [JsonStringEnumMemberName("llm")]
    Llm,

    /// <summary>Sentences picked from the transcript, because no language model was available or it failed.</summary>
    [JsonStringEnumMemberName("extractive")]
    Extractive,
}

/// <summary>An action item.</summary>
/// <param name="Owner">Who does it; <c>"unassigned"</c> when nobody was named.</param>
/// <param name="Task">What is to be done.</param>
/// <param name="Due">The due date as said, or null.</param>
public sealed record ActionItem(string Owner, string Task, string? Due = null);

/// <summary>The result of a meeting, shaped as <c>meeting-summary.schema.json</c> (see <see cref="MeetingSummarySchema"/>).</summary>
public sealed record MeetingSummary(
    string Title,
    string Summary,
    IReadOnlyList<string> KeyPoints,
    IReadOnlyList<string> Decisions,
    IReadOnlyList<ActionItem> ActionItems,
    IReadOnlyList<string> OpenQuestions,
    string Language,
    IReadOnlyList<SequenceGap> Gaps,
    SummarySource Source);

/// <summary>
/// The published JSON schema of <see cref="MeetingSummary"/> (embedded as <c>meeting-summary.schema.json</c>) and a
/// validator for it, for model answers as well as for summaries made here. Thread-safe.
/// </summary>
public static class MeetingSummarySchema
{
    /// <summary>The schema text, for publishing and for constrained generation.</summary>
    public static string SchemaText { get; } = LoadText();

    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(SchemaText));

    /// <summary>The problems of <paramref name="json"/> against the schema, as "location: message"; empty when valid. Unparsable JSON is one problem.</summary>
    public static IReadOnlyList<string> Validate(ReadOnlySpan<byte> json)
    {
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            return Validate(document.RootElement);
        }
        catch (JsonException e)
        {
            return [$"not JSON: {e.Message}"];
        }
    }

    /// <summary>The problems of <paramref name="element"/> against the schema, as "location: message"; empty when valid.</summary>
    public static IReadOnlyList<string> Validate(JsonElement element)
    {
        var results = Schema.Value.Evaluate(element, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid)
        {
            return [];
        }

        var problems = new List<string>();
        foreach (var detail in results.Details ?? [])
        {
            foreach (var (_, message) in detail.Errors ?? new Dictionary<string, string>())
            {
                var problem = $"{detail.InstanceLocation}: {message}";
                if (!problems.Contains(problem))
                {
                    problems.Add(problem);
                }
            }
        }

        return problems.Count > 0 ? problems : ["does not match the meeting summary schema"];
    }

    /// <summary>The summary serialized as the schema's JSON.</summary>
    public static string Serialize(MeetingSummary summary) => JsonSerializer.Serialize(summary, MeetingJson.Options);

    /// <summary>
    /// Parses a summary (for example a model's answer) and checks it against the schema. Returns false, with the
    /// problems, for JSON that is malformed or does not match; never throws for bad input.
    /// </summary>
    public static bool TryParse(string json, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MeetingSummary? summary, out IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(json);
        summary = null;
        problems = Validate(System.Text.Encoding.UTF8.GetBytes(json));
        if (problems.Count > 0)
        {
            return false;
        }

        summary = JsonSerializer.Deserialize<MeetingSummary>(json, MeetingJson.Options);
        return summary is not null;
    }

    private static string LoadText()
    {
        using var stream = typeof(MeetingSummarySchema).Assembly.GetManifestResourceStream("meeting-summary.schema.json")
            ?? throw new InvalidOperationException("The meeting summary schema is not embedded in Appliance.Meetings.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
