using System.Text;
using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Meetings;
using MQTTnet;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Tests;

public sealed partial class MeetingTests
{
    [Fact]
    public async Task A_meeting_survives_a_sigkill_of_the_daemon_without_losing_an_accepted_frame()
    {
        await using var broker = await MosquittoBroker.StartPrivateAsync();
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        var deviceId = $"hub-{Guid.NewGuid():N}"[..12];
        string[] args = ["--Mqtt:Mode=External", $"--Mqtt:External:Host={broker.Host}", $"--Mqtt:External:Port={broker.Port}", $"--Device:Id={deviceId}", $"--Profile={models.Profile()}", $"--Meetings:Root={root}"];
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = deviceId });
        var prefix = $"{Topics.DevicePrefix(deviceId)}meetings/power-cut/";
        var frames = Frames(Speech(8));
        var half = frames.Count / 2;

        Task SendFrameAsync(int seq) => client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(prefix + "audio")
            .WithPayload(frames[seq])
            .WithUserProperty("seq", Encoding.UTF8.GetBytes(seq.ToString(System.Globalization.CultureInfo.InvariantCulture)).AsMemory())
            .WithUserProperty("codec", "pcm_s16le"u8.ToArray().AsMemory())
            .Build());

        Task ControlAsync(string json) => client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(prefix + "control")
            .WithPayload(json)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());

        var transcript = new List<JsonElement>();
        using var listening = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var transcriptTask = Task.Run(async () =>
        {
            await foreach (var m in client.ObserveAsync(prefix + "transcript", listening.Token))
            {
                lock (transcript)
                {
                    transcript.Add(JsonDocument.Parse(m.Payload).RootElement);
                }
            }
        });

        long acceptedBeforeKill;
        double transcribedBeforeKill;
        int eventsBeforeKill;
        await using (var first = DaemonProcess.Start(args))
        {
            await first.WaitReadyAsync(TimeSpan.FromSeconds(60));
            await ControlAsync("{\"action\":\"start\",\"codec\":\"pcm_s16le\",\"sampleRate\":16000,\"channels\":1}");
            await WaitForAsync(client, "power-cut", _ => true);
            for (var i = 0; i < half; i++)
            {
                await SendFrameAsync(i);
            }

            var before = await WaitForAsync(client, "power-cut", m => m.GetProperty("counters").GetProperty("accepted").GetInt64() == half && m.GetProperty("transcribedSeconds").GetDouble() > 0);
            acceptedBeforeKill = before.GetProperty("counters").GetProperty("accepted").GetInt64();
            transcribedBeforeKill = before.GetProperty("transcribedSeconds").GetDouble();
            await first.KillAsync();
            lock (transcript)
            {
                eventsBeforeKill = transcript.Count;
            }
        }

        Assert.True(transcribedBeforeKill > 0, "no transcript checkpoint before the kill");

        Assert.Equal(half, acceptedBeforeKill);
        await using var second = DaemonProcess.Start(args);
        await second.WaitReadyAsync(TimeSpan.FromSeconds(60));
        var resumed = await WaitForAsync(client, "power-cut", _ => true);
        Assert.Equal(acceptedBeforeKill, resumed.GetProperty("counters").GetProperty("accepted").GetInt64());
        Assert.Equal("open", resumed.GetProperty("state").GetString(), ignoreCase: true);
        Assert.Contains("resumed after a restart", second.Output, StringComparison.Ordinal);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var summaries = client.ObserveAsync(prefix + "summary", timeout.Token).GetAsyncEnumerator(timeout.Token);
        var summaryArrived = summaries.MoveNextAsync();
        for (var i = half; i < frames.Count; i++)
        {
            await SendFrameAsync(i);
        }

        await WaitForAsync(client, "power-cut", m => m.GetProperty("counters").GetProperty("accepted").GetInt64() == frames.Count);
        await ControlAsync($"{{\"action\":\"stop\",\"lastSequence\":{frames.Count - 1}}}");
        Assert.True(await summaryArrived, "no summary after the restart");
        Assert.Empty(MeetingSummarySchema.Validate(summaries.Current.Payload));
        var done = await WaitForAsync(client, "power-cut", m => m.GetProperty("state").GetString()!.Equals("completed", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(frames.Count, done.GetProperty("counters").GetProperty("accepted").GetInt64());
        Assert.Empty(done.GetProperty("gaps").EnumerateArray());
        await listening.CancelAsync();
        await transcriptTask;

        // The restart went on from the checkpoint: nothing before it was transcribed again, and the rest was.
        lock (transcript)
        {
            var afterRestart = transcript.Skip(eventsBeforeKill).ToList();
            output.WriteLine($"checkpoint {transcribedBeforeKill} s; {eventsBeforeKill} transcript events before the kill, {afterRestart.Count} after");
            Assert.NotEmpty(afterRestart);
            Assert.All(afterRestart, e => Assert.True(e.GetProperty("end").GetDouble() > transcribedBeforeKill, $"{e} was transcribed before the kill"));
        }
    }
}
