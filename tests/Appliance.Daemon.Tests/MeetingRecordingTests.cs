using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.MeetingPlayer;
using Appliance.Meetings;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// A real recording (the 120 s TED talk in the shared assets, found through APPLIANCE_SHARED_DIR or ../shared beside the
/// repository) streamed by the meeting player's streamer as lossy Opus through the real daemon and broker.
/// </summary>
[Trait("Category", "Shared")]
public sealed class MeetingRecordingTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    [Fact]
    public async Task The_TED_recording_as_lossy_reordered_Opus_gives_a_live_transcript_and_a_valid_summary_with_the_gaps()
    {
        var shared = Environment.GetEnvironmentVariable("APPLIANCE_SHARED_DIR") is { Length: > 0 } variable
            ? variable
            : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "..", "shared");
        var recording = AudioFile.ReadMono16k(Path.Combine(shared, "audio", "tedlium_long_120s.wav"));
        Assert.True(recording.Succeeded, $"the shared recording is missing under {Path.GetFullPath(shared)}: {recording.Error}");

        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile(withSummaryLlm: true)}", $"--Meetings:Root={root}"]);
        await using var client = await daemon.ConnectAsync();
        var streamer = new MeetingStreamer(client);
        const string Session = "ted-talk";
        await using var subscription = await streamer.SubscribeAsync(Session);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var transcript = new List<TranscriptSegment>();
        var events = Task.Run(async () =>
        {
            await foreach (var e in subscription.ReadAllAsync(timeout.Token))
            {
                switch (e)
                {
                    case TranscriptEvent t:
                        transcript.Add(t.Segment);
                        break;
                    case SummaryEvent s:
                        return s.Message.Payload;
                }
            }

            return null;
        });

        // Five per cent of the frames never sent, two per cent sent twice, two per cent swapped with a neighbour.
        var options = new MeetingStreamOptions { Codec = MeetingCodec.Opus, Speed = 0, LossRate = 0.05, DuplicateRate = 0.02, ReorderRate = 0.02, Seed = 11, Language = "en", Participants = ["Speaker"] };
        var streamed = await streamer.StreamAsync(Session, recording.Audio!.Samples, options, cancellationToken: timeout.Token);
        Assert.True(streamed.Succeeded, "start or stop was refused");
        var counts = streamed.Counts!;
        output.WriteLine($"{counts.Frames} frames: {counts.Lost} lost, {counts.Duplicated} duplicated, {counts.Reordered} reordered");
        Assert.InRange(counts.Lost, counts.Frames / 40, counts.Frames / 10);
        Assert.True(counts.Duplicated > 0 && counts.Reordered > 0);

        var summaryJson = await events;
        Assert.NotNull(summaryJson);
        Assert.Empty(MeetingSummarySchema.Validate(summaryJson));
        Assert.True(MeetingSummarySchema.TryParse(System.Text.Encoding.UTF8.GetString(summaryJson!), out var summary, out _));
        output.WriteLine($"{transcript.Count} transcript events; summary from {summary.Source}; {summary.Gaps.Count} gaps");
        Assert.True(transcript.Count >= 10, $"only {transcript.Count} transcript events for two minutes of speech");
        Assert.All(transcript, t => Assert.InRange(t.Start, 0, 121));

        // Every frame never sent is a reported gap, and everything else was accepted once.
        Assert.Equal(counts.Lost, summary.Gaps.Sum(g => g.Count));
        var meeting = (await client.CallAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = Session })).Result!.Value.GetProperty("meeting");
        Assert.Equal(counts.Frames - counts.Lost, meeting.GetProperty("counters").GetProperty("accepted").GetInt64());
        Assert.Equal(counts.Duplicated, meeting.GetProperty("counters").GetProperty("duplicates").GetInt64());
    }
}
