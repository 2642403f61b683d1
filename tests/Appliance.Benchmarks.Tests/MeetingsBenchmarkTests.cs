using System.Text;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;
using Appliance.MeetingPlayer;

namespace Appliance.Benchmarks.Tests;

/// <summary>The parts of <c>appliance-bench meetings</c> that need no daemon: the step list and the timeline after stop.</summary>
public sealed class MeetingsBenchmarkTests
{

    [Theory]
    [InlineData("8,16,32", new[] { 8, 16, 32 })]
    [InlineData(" 4 , 128 ", new[] { 4, 128 })]
    public void StreamCountsAreReadInOrder(string text, int[] expected) =>
        Assert.Equal(expected, MeetingsCommand.ParseCounts(text));

    [Theory]
    [InlineData("")]
    [InlineData("8,0")]
    [InlineData("8,-4")]
    [InlineData("8,x")]
    public void UnusableStreamCountsAreRefused(string text) =>
        Assert.Null(MeetingsCommand.ParseCounts(text));

    [Fact]
    public void TimelineStartsAtStopMergesRunsOfOneStateAndLeavesOutCountersAndEarlierMessages()
    {
        var stop = TimeSpan.FromSeconds(100);
        var events = new List<(TimeSpan, MeetingEvent)>
        {
            (TimeSpan.FromSeconds(90), Progress("""{"state":"transcribing","transcribedSeconds":40,"acceptedFrames":4000}""")),
            (TimeSpan.FromSeconds(101), Progress("""{"state":"transcribing","transcribedSeconds":50,"acceptedFrames":6000,"at":"2026-11-29T10:00:00Z"}""")),
            (TimeSpan.FromSeconds(103), Progress("""{"state":"transcribing","transcribedSeconds":60,"acceptedFrames":6000}""")),
            (TimeSpan.FromSeconds(110), Progress("""{"state":"summarizing","stage":"map","chunk":1,"chunks":2,"gaps":0}""")),
            (TimeSpan.FromSeconds(150), Progress("""{"state":"summarizing","stage":"reduce"}""")),
            (TimeSpan.FromSeconds(180), new SummaryEvent(Message(Topics.MeetingSummary("dev-x64", "bench-summary"), "{}"), new MeetingSummary("t", "s", [], [], [], [], "en", [], SummarySource.Llm))),
        };

        var timeline = SummaryBenchmark.Timeline(events, stop, TimeSpan.FromMilliseconds(40));

        Assert.Equal(["stop reply", "progress transcribing", "progress summarizing / map", "progress summarizing / reduce", "summary"], timeline.Select(e => e.What));
        var transcribing = timeline[1];
        Assert.Equal((TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), 2), (transcribing.First, transcribing.Last, transcribing.Count));
        Assert.Equal("transcribedSeconds=60", transcribing.Detail);
        Assert.Equal("chunk=1, chunks=2", timeline[2].Detail);
        Assert.Equal((TimeSpan.FromSeconds(80), "source=llm"), (timeline[^1].First, timeline[^1].Detail));
    }

    private static ProgressEvent Progress(string json) =>
        new(Message(Topics.MeetingProgress("dev-x64", "bench-summary"), json), ContractJson.Deserialize<MeetingProgress>(Encoding.UTF8.GetBytes(json))!);

    private static ObservedMessage Message(string topic, string json) => new(topic, Encoding.UTF8.GetBytes(json), false, new Dictionary<string, string>());
}
