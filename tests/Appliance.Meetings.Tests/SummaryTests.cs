using System.Text.Json;
using Appliance.Meetings;

namespace Appliance.Meetings.Tests;

public sealed class SummaryTests
{
    private static readonly string[] Lines =
    [
        "Good morning everyone, thanks for joining the quarterly planning meeting.",
        "The main topic today is the launch budget for the new smart fridge firmware.",
        "Marketing spent forty percent of the launch budget on the trade show in October.",
        "We decided to move the firmware release to the second week of December.",
        "Maria will send the revised budget spreadsheet to finance by Friday.",
        "Tom needs to check the certification status of the wireless module.",
        "Action item: update the customer support scripts for the new features.",
        "Okay.",
        "We agreed that the beta program stays limited to two hundred households.",
        "Who owns the translation of the user manual into German?",
        "The firmware team reported that memory use of the voice assistant dropped by thirty percent.",
    ];

    private static IReadOnlyList<TranscriptSegment> Transcript() =>
        [.. Lines.Select((text, i) => new TranscriptSegment($"seg{i}", 0, i * 5, (i * 5) + 4, text, "en"))];

    [Fact]
    public void The_extractive_summary_is_schema_valid_and_labelled()
    {
        var summary = ExtractiveSummarizer.Summarize(Transcript(), TestStore.Opus, [new SequenceGap(12, 3)]);

        var json = ContractJson.Serialize(summary);
        Assert.Empty(MeetingSummarySchema.Validate(JsonDocument.Parse(json).RootElement));
        using var document = JsonDocument.Parse(json);
        Assert.Equal("extractive", document.RootElement.GetProperty("source").GetString());
        Assert.Equal(12, document.RootElement.GetProperty("gaps")[0].GetProperty("fromSeq").GetInt64());
        Assert.Equal("en", summary.Language);
        Assert.Contains(summary.Decisions, d => d.Contains("firmware release", StringComparison.Ordinal));
        Assert.Contains(summary.Decisions, d => d.Contains("beta program", StringComparison.Ordinal));
        var maria = Assert.Single(summary.ActionItems, a => a.Owner == "Maria");
        Assert.Equal("Friday", maria.Due);
        Assert.Contains(summary.ActionItems, a => a.Owner == "Tom");
        Assert.Contains(summary.ActionItems, a => a.Task.StartsWith("Action item", StringComparison.Ordinal) && a.Owner == "unassigned");
        Assert.Equal(["Who owns the translation of the user manual into German?"], summary.OpenQuestions);
        Assert.InRange(summary.KeyPoints.Count, 1, 5);
        Assert.DoesNotContain("Okay.", summary.KeyPoints);
        Assert.False(string.IsNullOrWhiteSpace(summary.Title));
        Assert.True(MeetingSummarySchema.TryParse(System.Text.Encoding.UTF8.GetString(json), out var parsed, out _));
        Assert.Equal(summary.Title, parsed.Title);
    }

    [Fact]
    public void An_empty_transcript_still_gives_a_valid_summary()
    {
        var summary = ExtractiveSummarizer.Summarize([], TestStore.Opus with { LanguageHint = "EN-us" }, []);
        Assert.Empty(MeetingSummarySchema.Validate(ContractJson.Serialize(summary)));
        Assert.Equal("en-us", summary.Language);
    }

    [Theory]
    [InlineData("""{"title":"t"}""")]
    [InlineData("""{"title":"t","summary":"s","keyPoints":[],"decisions":[],"actionItems":[{"task":"x"}],"openQuestions":[],"language":"en","gaps":[],"source":"llm"}""")]
    [InlineData("""{"title":"t","summary":"s","keyPoints":[],"decisions":[],"actionItems":[],"openQuestions":[],"language":"en","gaps":[],"source":"guess"}""")]
    [InlineData("not json")]
    public void A_summary_that_does_not_match_the_schema_is_refused(string json)
    {
        Assert.False(MeetingSummarySchema.TryParse(json, out _, out var problems));
        Assert.NotEmpty(problems);
    }
}
