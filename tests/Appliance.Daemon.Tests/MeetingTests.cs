using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Tests.Common;
using Appliance.Meetings;
using MQTTnet;
using Microsoft.Extensions.Time.Testing;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>A meeting streamed as earbuds do, through the real daemon and broker, with the speech models of <see cref="ForgedSpeechModels"/>.</summary>
public sealed partial class MeetingTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    private const int FrameSamples = 320; // 20 ms at 16 kHz
    private static readonly string[] Participants = ["Ana", "Ben"];

    [Fact]
    public async Task A_meeting_with_lost_duplicated_and_reordered_frames_gives_a_transcript_and_a_valid_summary_with_the_gaps()
    {
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}", $"--Meetings:Root={root}"]);
        await using var client = await daemon.ConnectAsync();
        await using var log = await ReplyLog.ConnectAsync(daemon);
        var session = "standup-1";
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var transcript = new List<JsonElement>();
        var transcriptTask = Task.Run(async () =>
        {
            await foreach (var m in client.ObserveAsync(Topics.MeetingTranscript(daemon.DeviceId, session), timeout.Token))
            {
                lock (transcript)
                {
                    transcript.Add(JsonDocument.Parse(m.Payload).RootElement);
                }
            }
        });
        await using var summaries = client.ObserveAsync(Topics.MeetingSummary(daemon.DeviceId, session), timeout.Token).GetAsyncEnumerator(timeout.Token);
        var summaryArrived = summaries.MoveNextAsync();

        var start = await log.ControlAsync(session, new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1, Language = "en", Participants = Participants });
        await log.WaitForFinalAsync(start, TimeSpan.FromSeconds(10));
        Assert.Null(log.Final(start).Error);
        var frames = SpokenAudio.PcmFrames(Speech(12));
        var order = Enumerable.Range(0, frames.Count).Where(i => i != 10).ToList(); // frame 10 is lost
        order.Insert(order.IndexOf(21), 20);                                         // frame 20 arrives twice
        (order[40], order[41]) = (order[41], order[40]);                            // two frames swap places
        // Four times real time, as the hub forwards a buffered stream: 20 ms frames every 5 ms.
        var pace = Stopwatch.StartNew();
        foreach (var (i, n) in order.Select((i, n) => (i, n)))
        {
            var due = TimeSpan.FromMilliseconds(5 * n) - pace.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due);
            }

            await client.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, session, i, AudioCodecs.PcmS16LE, frames[i]));
        }

        var stop = await log.ControlAsync(session, new MeetingControl { Action = "stop", LastSequence = frames.Count - 1 });
        await log.WaitForFinalAsync(stop, TimeSpan.FromSeconds(10));
        Assert.True(await summaryArrived, "no summary arrived");
        var summaryJson = summaries.Current.Payload;
        output.WriteLine(Encoding.UTF8.GetString(summaryJson));

        Assert.Empty(MeetingSummarySchema.Validate(summaryJson));
        var summary = JsonDocument.Parse(summaryJson).RootElement;
        Assert.Equal("extractive", summary.GetProperty("source").GetString());
        var gap = Assert.Single(summary.GetProperty("gaps").EnumerateArray());
        Assert.Equal(10, gap.GetProperty("fromSeq").GetInt64());
        Assert.Equal(1, gap.GetProperty("count").GetInt64());
        lock (transcript)
        {
            Assert.NotEmpty(transcript);
            // Ids name the utterance's place in the audio (milliseconds) and the segment within it.
            Assert.All(transcript, t => Assert.Matches("^t[0-9]{9}-[0-9]+$", t.GetProperty("segmentId").GetString()));
        }

        var get = await client.CallAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session });
        var meeting = get.Result!.Value.GetProperty("meeting");
        Assert.Equal("completed", meeting.GetProperty("state").GetString(), ignoreCase: true);
        Assert.Equal(frames.Count - 1, meeting.GetProperty("counters").GetProperty("accepted").GetInt64());
        Assert.Equal(1, meeting.GetProperty("counters").GetProperty("duplicates").GetInt64());
        Assert.Equal(frames.Count * 0.02, meeting.GetProperty("transcribedSeconds").GetDouble(), 0.05); // the checkpoint covers the whole meeting

        var deleted = await client.CallAsync(RpcMethods.MeetingsDelete, new SessionIdParams { SessionId = session });
        Assert.Null(deleted.Error);
        Assert.Equal("unknown_session", (await client.CallAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session })).Error!.Code);
        await timeout.CancelAsync();
        await transcriptTask;
    }

    [Fact]
    public async Task Bad_meeting_input_is_refused_or_counted_and_other_sessions_are_unaffected()
    {
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}", $"--Meetings:Root={root}"]);
        await using var client = await daemon.ConnectAsync();
        await using var log = await ReplyLog.ConnectAsync(daemon);
        var first = await log.ControlAsync("good", new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
        var conflicting = await log.ControlAsync("good", new MeetingControl { Action = "start", Codec = AudioCodecs.Opus, SampleRate = 48000, Channels = 1 });
        var badCodec = await log.ControlAsync("other", new MeetingControl { Action = "start", Codec = "mp3", SampleRate = 16000, Channels = 1 });
        var badOpusRate = await log.ControlAsync("other", new MeetingControl { Action = "start", Codec = AudioCodecs.Opus, SampleRate = 44100, Channels = 1 });
        var unknownStop = await log.ControlAsync("nobody", new MeetingControl { Action = "stop" });
        foreach (var request in new[] { first, conflicting, badCodec, badOpusRate, unknownStop })
        {
            await log.WaitForFinalAsync(request, TimeSpan.FromSeconds(10));
        }

        Assert.Null(log.Final(first).Error);
        Assert.Equal("session_conflict", log.Final(conflicting).Error!.Code);
        Assert.Equal("invalid_params", log.Final(badCodec).Error!.Code);
        Assert.Contains("48000", log.Final(badOpusRate).Error!.Message, StringComparison.Ordinal); // Opus has five rates; 44.1 kHz is not one
        Assert.Equal("unknown_session", log.Final(unknownStop).Error!.Code);

        async Task SendAsync(string session, int seq, string codec, byte[] payload) =>
            await client.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, session, seq, codec, payload));

        var frame = new byte[FrameSamples * 2];
        await SendAsync("nobody", 0, AudioCodecs.PcmS16LE, frame);          // unknown session: dropped
        await SendAsync("good", 0, AudioCodecs.PcmS16LE, frame);            // accepted
        await SendAsync("good", 1, AudioCodecs.Opus, frame);                 // codec change: refused
        await SendAsync("good", 2, AudioCodecs.PcmS16LE, new byte[64 * 1024]); // oversized: refused
        await SendAsync("good", 3, AudioCodecs.PcmS16LE, frame);            // accepted
        var meeting = await WaitForAsync(client, "good", m => m.GetProperty("counters").GetProperty("accepted").GetInt64() == 2);

        Assert.Equal(1, meeting.GetProperty("counters").GetProperty("codecMismatches").GetInt64());
        Assert.Equal(1, meeting.GetProperty("counters").GetProperty("invalidPayloads").GetInt64());
        var list = (await client.CallAsync("meetings.list")).Result!.Value;
        Assert.Equal(1, list.GetProperty("droppedFrames").GetInt64());
        Assert.True((await client.CallAsync("status.get")).Result!.Value.GetProperty("online").GetBoolean());
    }

    [Fact]
    public async Task Commands_for_one_meeting_are_carried_out_in_the_order_they_were_sent()
    {
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}", $"--Meetings:Root={root}"]);
        await using var log = await ReplyLog.ConnectAsync(daemon);

        // Back to back, without waiting for replies, as earbuds that lose their link may send them; the control topic and
        // the meetings.* methods share one order. Each outcome depends on the order: a stop after the abort is refused.
        var commands = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            commands.Add(await log.ControlAsync($"burst-{i}", new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000 }));
            commands.Add(await log.SendAsync(RpcMethods.MeetingsAbort, new SessionIdParams { SessionId = $"burst-{i}" }));
            commands.Add(await log.ControlAsync($"burst-{i}", new MeetingControl { Action = "stop" }));
        }

        foreach (var command in commands)
        {
            await log.WaitForFinalAsync(command, TimeSpan.FromSeconds(20));
        }

        var states = commands.Select(c => log.Final(c)).Select(r => r.Error?.Code ?? RpcMethods.MeetingsStop.ReadResult(r)!.State.ToString()).ToList();
        Assert.Equal(Enumerable.Repeat<string[]>(["Recording", "Aborted", RpcErrorCodes.InvalidState], 5).SelectMany(x => x), states);
    }

    [Fact]
    public async Task A_meeting_command_waiting_its_turn_holds_no_worker()
    {
        // On a fake clock the stop's wait for its last frame lasts until that frame comes.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}", $"--Meetings:Root={root}", "--Rpc:MaxConcurrent=2"], RunningDaemon.WithClock(time));
        await using var client = await daemon.ConnectAsync();
        await using var log = await ReplyLog.ConnectAsync(daemon);
        await log.WaitForFinalAsync(await log.ControlAsync("held", new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000 }), TimeSpan.FromSeconds(20));

        // The first stop holds a worker until frame 9 comes; the second waits behind it in the meeting's lane.
        var waitingForFrame = await log.ControlAsync("held", new MeetingControl { Action = "stop", LastSequence = 9 });
        var behindIt = await log.SendAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = "held" });
        var status = await log.SendAsync(RpcMethods.StatusGet, new EmptyParams());

        // Two workers: the other one is free for everything else.
        await log.WaitForFinalAsync(status, TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(log.Arrivals, a => a.Request == waitingForFrame || a.Request == behindIt);

        await client.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, "held", 9, AudioCodecs.PcmS16LE, new byte[FrameSamples * 2]));
        await log.WaitForFinalAsync(behindIt, TimeSpan.FromSeconds(20));
        Assert.Equal([new SequenceGap(0, 9)], RpcMethods.MeetingsStop.ReadResult(log.Final(waitingForFrame))!.Gaps);
        Assert.Equal(MeetingPhase.Stopping, RpcMethods.MeetingsStop.ReadResult(log.Final(behindIt))!.State);
    }

    internal static async Task<JsonElement> WaitForAsync(ApplianceClient client, string session, Func<JsonElement, bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var reply = await client.CallAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session });
            if (reply.Result is { } result && (condition(result.GetProperty("meeting")) || watch.Elapsed > TimeSpan.FromSeconds(20)))
            {
                return result.GetProperty("meeting");
            }

            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"meetings.get: {reply.Error}");

            await Task.Yield();
        }
    }

    private float[] Speech(double seconds) =>
        SpokenAudio.Repeated(models.Root, "Ana will send the budget by Friday. We decided to ship the new fridge line in March.", seconds);
}
