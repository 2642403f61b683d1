using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Appliance.Meetings;

/// <summary>
/// The published JSON schema of <see cref="MeetingSummary"/> (embedded as <c>meeting-summary.schema.json</c>) and a
/// validator for it, for model answers as well as for summaries made here. Thread-safe.
/// </summary>
public static class MeetingSummarySchema
{
    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(ContractSchemas.MeetingSummary));

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

    /// <summary>
    /// The part of the summary a language model writes (title, summary, key points, decisions, action items, open
    /// questions), as a JSON schema for constrained decoding: the published schema's properties, with every list at
    /// most <paramref name="maxItems"/> long and the strings bounded so that all the text together stays within about
    /// <paramref name="maxChars"/> characters (a constrained answer then fits a known number of tokens). An answer valid
    /// against it, completed with <see cref="TryCompleteModelAnswer"/>, is valid against the published schema.
    /// </summary>
    /// <remarks>
    /// <paramref name="maxChars"/> is first rounded down to a step of <see cref="CharacterBudgetStep"/>, so that the
    /// meetings of a device, whose budgets differ by a few characters, share a few schemas. GenAI compiles every distinct
    /// schema into a grammar and keeps up to 64 of them per model, each with the states its lexer has built (about half
    /// a megabyte for these schemas); a schema of its own for every meeting made the summary model's memory climb
    /// meeting after meeting until that cache was full, and paid the compilation every time.
    /// </remarks>
    public static string ModelAnswerSchemaText(int maxItems, int maxChars) => ModelAnswerSchema(maxItems, maxChars).Schema.ToJsonString();

    /// <summary>
    /// The most characters of text an answer valid against <see cref="ModelAnswerSchemaText"/> of the same arguments can
    /// hold (every string and list at its bound). Above <paramref name="maxChars"/> for small budgets, where the
    /// strings' lower bounds (8 characters, 16 for the summary) outweigh the budget's shares: the caller then asks
    /// for fewer items. Throws <see cref="ArgumentOutOfRangeException"/> as that method does.
    /// </summary>
    public static int LongestAnswerChars(int maxItems, int maxChars) => ModelAnswerSchema(maxItems, maxChars).LongestChars;

    private static (JsonObject Schema, int LongestChars) ModelAnswerSchema(int maxItems, int maxChars)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxItems, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChars, 1);
        maxChars = CharacterBudgetStep(maxChars);
        // Title a tenth, summary a quarter, and the rest for six strings per list position (three lists, three action fields).
        var itemChars = Math.Clamp(maxChars / (10 * maxItems), 8, 200);
        var limits = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["title"] = Math.Clamp(maxChars / 10, 8, 120),
            ["summary"] = Math.Clamp(maxChars / 4, 16, 1200),
            ["keyPoints"] = itemChars,
            ["decisions"] = itemChars,
            ["actionItems"] = itemChars,
            ["openQuestions"] = itemChars,
        };
        var properties = JsonNode.Parse(ContractSchemas.MeetingSummary)!["properties"]!.AsObject();
        var answer = new JsonObject();
        var longest = 0;
        foreach (var (name, length) in limits)
        {
            var property = properties[name]!.DeepClone().AsObject();
            if (property["items"] is not JsonObject items)
            {
                property["maxLength"] = length;
                longest += length;
            }
            else
            {
                property["maxItems"] = maxItems;
                foreach (var (_, field) in items["properties"] as JsonObject ?? [])
                {
                    field!["maxLength"] = Math.Min(length, 40);
                }

                if (items["properties"] is JsonObject actionFields)
                {
                    actionFields["task"]!["maxLength"] = length;
                    longest += maxItems * actionFields.Sum(f => f.Value!["maxLength"]!.GetValue<int>());
                }
                else
                {
                    items["maxLength"] = length;
                    longest += maxItems * length;
                }
            }

            answer[name] = property;
        }

        var schema = new JsonObject
        {
            ["type"] = "object",
            ["additionalProperties"] = false,
            ["required"] = new JsonArray([.. limits.Keys.Select(k => (JsonNode)k)]),
            ["properties"] = answer,
        };
        return (schema, longest);
    }

    /// <summary>
    /// The largest step at or below <paramref name="maxChars"/> on the ladder ⌊2^(k/4)⌋: … 64, 76, 90, 107, 128, 152 …
    /// characters, each about 19 % above the one before, so a budget loses at most 16 % to the rounding. Throws
    /// <see cref="ArgumentOutOfRangeException"/> below 1.
    /// </summary>
    public static int CharacterBudgetStep(int maxChars)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChars, 1);
        static int Step(int k) => (int)Math.Pow(2, k / 4.0);
        var k = (int)Math.Floor(Math.Log2(maxChars) * 4) + 1;
        while (Step(k) > maxChars)
        {
            k--;
        }

        return Step(k);
    }

    /// <summary>
    /// Completes a model's answer (the JSON object in <paramref name="answer"/>, text around it ignored) with what
    /// the model cannot know (language, gaps, source <c>llm</c>) and checks the result against the published schema.
    /// False, with the problems, when there is no such object or it does not match; never throws for bad input.
    /// </summary>
    public static bool TryCompleteModelAnswer(string answer, string language, IReadOnlyList<SequenceGap> gaps, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MeetingSummary? summary, out IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(answer);
        summary = null;
        var start = answer.IndexOf('{', StringComparison.Ordinal);
        var end = answer.LastIndexOf('}');
        if (start < 0 || end <= start)
        {
            problems = ["the answer holds no JSON object"];
            return false;
        }

        try
        {
            if (JsonNode.Parse(answer[start..(end + 1)]) is not JsonObject node)
            {
                problems = ["the answer is not a JSON object"];
                return false;
            }

            node["language"] = language;
            node["gaps"] = JsonSerializer.SerializeToNode(gaps, ContractJsonContext.Default.IReadOnlyListSequenceGap);
            node["source"] = "llm";
            return TryParse(node.ToJsonString(), out summary, out problems);
        }
        catch (JsonException e)
        {
            problems = [$"not JSON: {e.Message}"];
            return false;
        }
    }

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

        summary = JsonSerializer.Deserialize(json, ContractJsonContext.Default.MeetingSummary);
        return summary is not null;
    }
}
