using System.Diagnostics;
using System.Text;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using MQTTnet;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>Twenty meetings at once into one daemon, each streamed at four times real time.</summary>
public sealed class MeetingLoadTests(SpeechModels models, ITestOutputHelper output) : IClassFixture<SpeechModels>
{
    private const int Sessions = 20;
    private const int SecondsPerMeeting = 60;
    private const int FrameSamples = 320;

    [Fact]
    public async Task Twenty_concurrent_meetings_at_four_times_real_time_all_complete_without_losing_an_accepted_frame()
    {
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}", $"--Meetings:Root={root}"]);
        var frame = new byte[FrameSamples * 2];
        var framesPerMeeting = SecondsPerMeeting * 50;
        var watch = Stopwatch.StartNew();

        async Task<(string Session, int Sent)> StreamAsync(int n)
        {
            var session = $"load-{n:D2}";
            await using var client = await daemon.ConnectAsync();
            var prefix = $"{Topics.DevicePrefix(daemon.DeviceId)}meetings/{session}/";
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await using var summaries = client.ObserveAsync(prefix + "summary", timeout.Token).GetAsyncEnumerator(timeout.Token);
            var summary = summaries.MoveNextAsync();
            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(prefix + "control").WithPayload("{\"action\":\"start\",\"codec\":\"pcm_s16le\",\"sampleRate\":16000,\"channels\":1}").WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
            var pace = Stopwatch.StartNew();
            for (var seq = 0; seq < framesPerMeeting; seq++)
            {
                var due = TimeSpan.FromMilliseconds(5 * seq) - pace.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due);
                }

                await client.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic(prefix + "audio")
                    .WithPayload(frame)
                    .WithUserProperty("seq", Encoding.UTF8.GetBytes(seq.ToString(System.Globalization.CultureInfo.InvariantCulture)).AsMemory())
                    .WithUserProperty("codec", "pcm_s16le"u8.ToArray().AsMemory())
                    .Build());
            }

            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(prefix + "control").WithPayload($"{{\"action\":\"stop\",\"lastSequence\":{framesPerMeeting - 1}}}").WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.True(await summary, $"{session}: no summary");
            return (session, framesPerMeeting);
        }

        var results = await Task.WhenAll(Enumerable.Range(0, Sessions).Select(StreamAsync));
        output.WriteLine($"{Sessions} meetings of {SecondsPerMeeting} s streamed and summarized in {watch.Elapsed.TotalSeconds:F1} s");
        await using var check = await daemon.ConnectAsync();
        long lost = 0, afterStop = 0;
        foreach (var (session, sent) in results)
        {
            var meeting = (await check.CallAsync("meetings.get", new { sessionId = session })).Result!.Value.GetProperty("meeting");
            var accepted = meeting.GetProperty("counters").GetProperty("accepted").GetInt64();
            var gaps = meeting.GetProperty("gaps").EnumerateArray().Sum(g => g.GetProperty("count").GetInt64());
            Assert.Equal("completed", meeting.GetProperty("state").GetString(), ignoreCase: true);
            Assert.Equal(sent, accepted + gaps);
            lost += gaps;
            afterStop += meeting.GetProperty("counters").GetProperty("afterStop").GetInt64();
        }

        var droppedByDaemon = (await check.CallAsync("meetings.list", new { })).Result!.Value.GetProperty("droppedFrames").GetInt64();
        output.WriteLine($"frames the daemon dropped before a session saw them: {droppedByDaemon}");

        // The daemon, its broker and the twenty clients share this process: all of it must fit the profile's budget.
        using var process = Process.GetCurrentProcess();
        output.WriteLine($"frames not accepted (reported as gaps): {lost} of {Sessions * framesPerMeeting}, of which {afterStop} arrived after the stop; test process peak RSS {process.PeakWorkingSet64 / (1024 * 1024)} MB");
        Assert.InRange(process.PeakWorkingSet64 / (1024 * 1024), 1, 4096);
    }
}
