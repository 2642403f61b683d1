using System.Text.Json;
using Appliance.Meetings;

namespace Appliance.Meetings.Tests;

/// <summary>Group commit of frames from many sessions, and reading them back in order while the meeting goes on.</summary>
public sealed class IngestTests : IDisposable
{
    private readonly TestStore _store = new(reorderWindow: 4);

    public void Dispose() => _store.Dispose();

    [Fact]
    public void A_batch_of_several_sessions_is_accepted_in_one_go_with_duplicates_and_unknown_sessions_sorted_out()
    {
        using (var manager = _store.Open())
        {
            manager.Start("a", TestStore.Opus);
            manager.Start("b", TestStore.Opus);
            IncomingFrame[] batch =
            [
                new("a", TestStore.Frame(0)), new("b", TestStore.Frame(1)), new("a", TestStore.Frame(1)),
                new("nobody", TestStore.Frame(0)), new("a", TestStore.Frame(1)), new("b", TestStore.Frame(0)),
                new("b", TestStore.Frame(0, codec: "pcm_s16le")),
            ];
            var results = new FrameResult[batch.Length];
            manager.AcceptFrames(batch, results);

            Assert.Equal(
                [FrameResult.Accepted, FrameResult.Accepted, FrameResult.Accepted, FrameResult.UnknownSession, FrameResult.Duplicate, FrameResult.Accepted, FrameResult.CodecMismatch],
                results);
            Assert.Equal((2L, 1L, 1L), (manager.Get("a")!.Counters.Accepted, manager.Get("a")!.Counters.Duplicates, manager.Get("a")!.ReleasedThrough));
            Assert.Equal((2L, 1L, 1L), (manager.Get("b")!.Counters.Accepted, manager.Get("b")!.Counters.CodecMismatches, manager.Get("b")!.ReleasedThrough));
        }

        // Everything accepted was flushed: a restart finds it.
        using var reopened = _store.Open();
        Assert.Equal([0L, 1], reopened.ReadJournaledAudio("a").Select(f => f.Sequence));
        Assert.Equal([1L, 0], reopened.ReadJournaledAudio("b").Select(f => f.Sequence));
    }

    /// <summary>
    /// A frame swapped behind one a whole window ahead (a long loss right after a reordering) in the same batch is late,
    /// as it would be one frame at a time and as a replay of the journal finds it: the gaps stay whole and ordered, and
    /// the store reads the same after a restart. (It once entered the reorder buffer below its next due number and made
    /// a gap of count 0 that the summary schema refused.)
    /// </summary>
    [Fact]
    public void A_batch_classifies_each_frame_as_if_the_frames_before_it_had_come_alone()
    {
        MeetingInfo live;
        using (var manager = _store.Open())
        {
            manager.Start("m1", TestStore.Opus);
            IncomingFrame[] batch = [new("m1", TestStore.Frame(0)), new("m1", TestStore.Frame(1)), new("m1", TestStore.Frame(3)), new("m1", TestStore.Frame(20)), new("m1", TestStore.Frame(2)), new("m1", TestStore.Frame(21))];
            var results = new FrameResult[batch.Length];
            manager.AcceptFrames(batch, results);
            Assert.Equal([FrameResult.Accepted, FrameResult.Accepted, FrameResult.Accepted, FrameResult.Accepted, FrameResult.Late, FrameResult.Accepted], results);

            manager.AcceptFrames([new("m1", TestStore.Frame(2))], results.AsSpan(0, 1));
            Assert.Equal(FrameResult.Late, results[0]);
            live = manager.Get("m1")!;
            Assert.Equal([new SequenceGap(2, 1), new SequenceGap(4, 14)], live.Gaps);
            Assert.Equal((5L, 2L, 17L), (live.Counters.Accepted, live.Counters.Late, live.ReleasedThrough));
            Assert.Equal(MeetingResult.Ok, manager.Stop("m1").Result);
            live = manager.Get("m1")!;
        }

        using var reopened = _store.Open();
        var replayed = reopened.Get("m1")!;
        Assert.Equal([new SequenceGap(2, 1), new SequenceGap(4, 16)], replayed.Gaps);
        Assert.Equal(live.Gaps, replayed.Gaps);
        Assert.Equal(live.Counters, replayed.Counters);
        Assert.All(replayed.Gaps, g => Assert.True(g.Count > 0));
    }

    /// <summary>
    /// A device numbering from 5000 begins the timeline there, not with a phantom gap from 0; a refused frame before it
    /// (another codec, numbered 90000) settles nothing, and a frame numbered below the first one arrives late.
    /// </summary>
    [Fact]
    public void A_numbering_from_anywhere_begins_the_timeline_at_the_first_usable_frame()
    {
        using var manager = _store.Open();
        manager.Start("m1", TestStore.Opus);
        Assert.Equal(FrameResult.CodecMismatch, manager.AcceptFrame("m1", TestStore.Frame(90000, codec: "pcm_s16le")));
        foreach (var seq in new long[] { 5000, 5001, 5003, 5002 })
        {
            Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("m1", TestStore.Frame(seq)));
        }

        Assert.Equal(FrameResult.Late, manager.AcceptFrame("m1", TestStore.Frame(4999)));
        var info = manager.Get("m1")!;
        Assert.Empty(info.Gaps);
        Assert.Equal((4L, 1L, 3L), (info.Counters.Accepted, info.Counters.Late, info.ReleasedThrough));
    }

    [Fact]
    public void The_reader_hands_out_a_frame_only_when_no_earlier_one_can_still_come()
    {
        using var manager = _store.Open();
        manager.Start("m1", TestStore.Opus);
        using var reader = manager.OpenReleasedAudio("m1")!;

        // 1 and 2 wait for 0; 0 releases all three.
        manager.AcceptFrame("m1", TestStore.Frame(1));
        manager.AcceptFrame("m1", TestStore.Frame(2));
        Assert.Empty(TestStore.Drain(reader, out var status));
        Assert.Equal(ReleasedAudioStatus.Waiting, status);
        manager.AcceptFrame("m1", TestStore.Frame(0));
        Assert.Equal([0L, 1, 2], TestStore.Drain(reader, out _));

        // 3 never comes: 4..6 wait until 7, a whole window past it, gives it up as lost.
        foreach (var seq in new long[] { 4, 5, 6 })
        {
            manager.AcceptFrame("m1", TestStore.Frame(seq));
        }

        Assert.Empty(TestStore.Drain(reader, out _));
        manager.AcceptFrame("m1", TestStore.Frame(7));
        Assert.Equal([-1L, 4, 5, 6, 7], TestStore.Drain(reader, out _));
        Assert.Equal(FrameResult.Late, manager.AcceptFrame("m1", TestStore.Frame(3)));

        manager.Stop("m1");
        Assert.Empty(TestStore.Drain(reader, out status));
        Assert.Equal(ReleasedAudioStatus.Ended, status);
        manager.Delete("m1");
        Assert.Equal(ReleasedAudioStatus.Gone, reader.Next(out _, out _));
    }

    [Fact]
    public void A_reader_opened_after_a_restart_reads_the_same_order_and_gaps_as_before()
    {
        long[] arrival = [2, 0, 1, 4, 7, 5, 6, 9, 8, 11, 10];
        List<long> live;
        using (var manager = _store.Open())
        {
            manager.Start("m1", TestStore.Opus);
            using var reader = manager.OpenReleasedAudio("m1")!;
            live = [];
            foreach (var seq in arrival)
            {
                Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("m1", TestStore.Frame(seq)));
                live.AddRange(TestStore.Drain(reader, out _));
            }
        }

        using var reopened = _store.Open();
        using var again = reopened.OpenReleasedAudio("m1")!;
        Assert.Equal(live, TestStore.Drain(again, out var status));
        Assert.Equal(ReleasedAudioStatus.Waiting, status);
        Assert.Equal([0L, 1, 2, -1, 4, 5, 6, 7, 8, 9, 10, 11], live);
    }

    [Fact]
    public void The_transcript_checkpoint_survives_a_restart()
    {
        using (var manager = _store.Open())
        {
            manager.Start("m1", TestStore.Opus);
            Assert.Equal(MeetingResult.Ok, manager.SetTranscribedThrough("m1", TimeSpan.FromSeconds(12.5)));
            Assert.Equal(MeetingResult.UnknownSession, manager.SetTranscribedThrough("nobody", TimeSpan.FromSeconds(1)));
        }

        using var reopened = _store.Open();
        Assert.Equal(12.5, reopened.Get("m1")!.TranscribedSeconds);
    }

    [Fact]
    public void Character_budgets_a_few_characters_apart_share_one_schema_and_the_steps_stay_within_the_budget()
    {
        var budgets = Enumerable.Range(64, 8000).Where(c => c % 3 == 0).ToList();
        Assert.All(budgets, c => Assert.InRange(MeetingSummarySchema.CharacterBudgetStep(c), c * 0.84, c));

        // GenAI compiles and keeps a grammar for every distinct schema: the meetings' budgets must map to a few.
        var schemas = budgets.Select(c => MeetingSummarySchema.ModelAnswerSchemaText(3, c)).Distinct().Count();
        Assert.InRange(schemas, 2, 28);
        Assert.Equal(MeetingSummarySchema.ModelAnswerSchemaText(3, 1000), MeetingSummarySchema.ModelAnswerSchemaText(3, 1010));
        Assert.Equal([64, 64, 76, 76, 90, 107, 128, 152], ((int[])[64, 75, 76, 89, 90, 127, 151, 180]).Select(MeetingSummarySchema.CharacterBudgetStep));
    }

    [Theory]
    [InlineData(5, 6000, true)]
    [InlineData(1, 120, true)]
    [InlineData(3, 262, true)]
    [InlineData(8, 262, false)] // 8 items of at least 8 characters each: the summarizer asks for fewer
    public void The_model_answer_schema_bounds_the_answer_and_completes_to_a_valid_summary(int maxItems, int maxChars, bool fits)
    {
        using var schema = JsonDocument.Parse(MeetingSummarySchema.ModelAnswerSchemaText(maxItems, maxChars));
        var properties = schema.RootElement.GetProperty("properties");
        Assert.Equal(["actionItems", "decisions", "keyPoints", "openQuestions", "summary", "title"], properties.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        var longest = properties.GetProperty("title").GetProperty("maxLength").GetInt32() + properties.GetProperty("summary").GetProperty("maxLength").GetInt32();
        foreach (var list in new[] { "keyPoints", "decisions", "openQuestions" })
        {
            Assert.Equal(maxItems, properties.GetProperty(list).GetProperty("maxItems").GetInt32());
            longest += maxItems * properties.GetProperty(list).GetProperty("items").GetProperty("maxLength").GetInt32();
        }

        var action = properties.GetProperty("actionItems").GetProperty("items").GetProperty("properties");
        longest += maxItems * action.EnumerateObject().Sum(p => p.Value.GetProperty("maxLength").GetInt32());
        Assert.Equal(longest, MeetingSummarySchema.LongestAnswerChars(maxItems, maxChars));
        Assert.Equal(fits, longest <= maxChars);

        var answer = "<think>x</think>{\"title\":\"Budget\",\"summary\":\"Launch budget.\",\"keyPoints\":[\"Trade show\"],\"decisions\":[],\"actionItems\":[{\"owner\":\"Maria\",\"task\":\"Send sheet\",\"due\":\"Friday\"}],\"openQuestions\":[]}";
        Assert.True(MeetingSummarySchema.TryCompleteModelAnswer(answer, "en", [new SequenceGap(3, 2)], out var summary, out var problems), string.Join("; ", problems));
        Assert.Equal((SummarySource.Llm, "en", 2L), (summary.Source, summary.Language, summary.Gaps.Single().Count));
        Assert.False(MeetingSummarySchema.TryCompleteModelAnswer("{\"title\":\"\"}", "en", [], out _, out problems));
        Assert.NotEmpty(problems);
        Assert.False(MeetingSummarySchema.TryCompleteModelAnswer("no json here", "en", [], out _, out _));
    }
}
