using System.Text;
using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Tests.Common;
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
        const string Session = "power-cut";
        var frames = SpokenAudio.PcmFrames(Speech(8));
        var half = frames.Count / 2;

        Task SendFrameAsync(int seq) => client.PublishAsync(MeetingAudioFrame.Create(deviceId, Session, seq, AudioCodecs.PcmS16LE, frames[seq]));

        var transcript = new List<JsonElement>();
        using var listening = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var transcriptTask = Task.Run(async () =>
        {
            await foreach (var m in client.ObserveAsync(Topics.MeetingTranscript(deviceId, Session), listening.Token))
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
            Assert.Null((await client.ControlMeetingAsync(Session, new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 })).Error);
            await WaitForAsync(client, Session, _ => true);
            for (var i = 0; i < half; i++)
            {
                await SendFrameAsync(i);
            }

            var before = await WaitForAsync(client, Session, m => m.GetProperty("counters").GetProperty("accepted").GetInt64() == half && m.GetProperty("transcribedSeconds").GetDouble() > 0);
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
        var resumed = await WaitForAsync(client, Session, _ => true);
        Assert.Equal(acceptedBeforeKill, resumed.GetProperty("counters").GetProperty("accepted").GetInt64());
        Assert.Equal("open", resumed.GetProperty("state").GetString(), ignoreCase: true);
        Assert.Contains("resumed after a restart", second.Output, StringComparison.Ordinal);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var summaries = client.ObserveAsync(Topics.MeetingSummary(deviceId, Session), timeout.Token).GetAsyncEnumerator(timeout.Token);
        var summaryArrived = summaries.MoveNextAsync();
        for (var i = half; i < frames.Count; i++)
        {
            await SendFrameAsync(i);
        }

        await WaitForAsync(client, Session, m => m.GetProperty("counters").GetProperty("accepted").GetInt64() == frames.Count);
        Assert.Null((await client.ControlMeetingAsync(Session, new MeetingControl { Action = "stop", LastSequence = frames.Count - 1 })).Error);
        Assert.True(await summaryArrived, "no summary after the restart");
        Assert.Empty(MeetingSummarySchema.Validate(summaries.Current.Payload));
        var done = await WaitForAsync(client, Session, m => m.GetProperty("state").GetString()!.Equals("completed", StringComparison.OrdinalIgnoreCase));
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
