using System.Diagnostics;
using System.Text;
using Appliance.Contracts;
using Appliance.Daemon.Llm;
using Appliance.Daemon.Tests.Infrastructure;
using MQTTnet;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Twenty meetings at once into one daemon, each streamed at four times real time, while the daemon's language model
/// answers chats back to back: speech ingest must not starve beside a generating LLM.
/// </summary>
public sealed class MeetingLoadTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    private const int Sessions = 20;
    private const int SecondsPerMeeting = 60;
    private const int FrameSamples = 320;

    [Fact]
    public async Task Twenty_concurrent_meetings_at_four_times_real_time_lose_no_frame_while_the_llm_generates()
    {
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile(withSummaryLlm: true)}", $"--Meetings:Root={root}"]);
        await daemon.Service<LlmHost>().InitialLoads.WaitAsync(TimeSpan.FromSeconds(30));
        var frame = new byte[FrameSamples * 2];
        var framesPerMeeting = SecondsPerMeeting * 50;
        var watch = Stopwatch.StartNew();

        async Task<(string Session, int Sent)> StreamAsync(int n)
        {
            var session = $"load-{n:D2}";
            await using var client = await daemon.ConnectAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await using var summaries = client.ObserveAsync(Topics.MeetingSummary(daemon.DeviceId, session), timeout.Token).GetAsyncEnumerator(timeout.Token);
            var summary = summaries.MoveNextAsync();
            Assert.Null((await client.ControlMeetingAsync(session, new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 })).Error);
            var pace = Stopwatch.StartNew();
            for (var seq = 0; seq < framesPerMeeting; seq++)
            {
                var due = TimeSpan.FromMilliseconds(5 * seq) - pace.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due);
                }

                await client.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, session, seq, AudioCodecs.PcmS16LE, frame));
            }

            Assert.Null((await client.ControlMeetingAsync(session, new MeetingControl { Action = "stop", LastSequence = framesPerMeeting - 1 })).Error);
            Assert.True(await summary, $"{session}: no summary");
            return (session, framesPerMeeting);
        }

        // The language model generates without pause for as long as the meetings stream.
        using var streaming = new CancellationTokenSource();
        var chats = Task.Run(async () =>
        {
            await using var chatClient = await daemon.ConnectAsync();
            int completed = 0, tokens = 0;
            while (!streaming.IsCancellationRequested)
            {
                var replies = await chatClient.StreamAsync(RpcMethods.LlmChat, new LlmChatParams { Model = "summary-tiny", Messages = [new("user", "Summarise the meeting so far.")], MaxTokens = 64, Temperature = 0 }).ToListAsync();
                Assert.True(replies[^1].Result is not null, $"a chat beside the meetings failed: {replies[^1].Error}");
                var usage = replies[^1].Result!.Value.GetProperty("usage");
                tokens += usage.GetProperty("completionTokens").GetInt32();
                completed++;
            }

            return (Completed: completed, Tokens: tokens);
        });
        (string Session, int Sent)[] results;
        try
        {
            results = await Task.WhenAll(Enumerable.Range(0, Sessions).Select(StreamAsync));
        }
        finally
        {
            await streaming.CancelAsync(); // the chats end with the streams, whether they passed or not
        }

        var generated = await chats;
        output.WriteLine($"{Sessions} meetings of {SecondsPerMeeting} s streamed and summarized in {watch.Elapsed.TotalSeconds:F1} s; meanwhile the LLM answered {generated.Completed} chats, {generated.Tokens} tokens");
        Assert.True(generated.Completed >= 2, $"the LLM answered {generated.Completed} chats while the meetings streamed");
        await using var check = await daemon.ConnectAsync();
        long lost = 0, afterStop = 0;
        foreach (var (session, sent) in results)
        {
            var meeting = (await check.CallAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session })).Result!.Value.GetProperty("meeting");
            var accepted = meeting.GetProperty("counters").GetProperty("accepted").GetInt64();
            var gaps = meeting.GetProperty("gaps").EnumerateArray().Sum(g => g.GetProperty("count").GetInt64());
            Assert.Equal("completed", meeting.GetProperty("state").GetString(), ignoreCase: true);
            Assert.Equal((sent, 0L), (accepted, gaps));
            lost += gaps;
            afterStop += meeting.GetProperty("counters").GetProperty("afterStop").GetInt64();
        }

        var droppedByDaemon = (await check.CallAsync("meetings.list")).Result!.Value.GetProperty("droppedFrames").GetInt64();
        output.WriteLine($"frames the daemon dropped before a session saw them: {droppedByDaemon}");

        // The daemon, its broker and the twenty clients share this process: all of it must fit the profile's budget.
        using var process = Process.GetCurrentProcess();
        output.WriteLine($"frames not accepted (reported as gaps): {lost} of {Sessions * framesPerMeeting}, of which {afterStop} arrived after the stop; test process peak RSS {process.PeakWorkingSet64 / (1024 * 1024)} MB");
        Assert.InRange(process.PeakWorkingSet64 / (1024 * 1024), 1, 4096);
    }
}
