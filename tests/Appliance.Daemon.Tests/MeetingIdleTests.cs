using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>Earbuds that never come back: an open meeting is closed after the profile's idle time and summarised from what arrived.</summary>
public sealed class MeetingIdleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_meeting_whose_earbuds_send_nothing_for_the_idle_time_is_stopped_and_summarised()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var profile = TestProfiles.Write(p => p["meetings"] = new System.Text.Json.Nodes.JsonObject { ["idleCloseMinutes"] = 10 });
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={profile}"], RunningDaemon.WithClock(time));
        await using var client = await daemon.ConnectAsync();
        const string Session = "gone-1";
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var summaries = client.ObserveAsync(Topics.MeetingSummary(daemon.DeviceId, Session), timeout.Token).GetAsyncEnumerator(timeout.Token);
        var summaryArrived = summaries.MoveNextAsync();
        Assert.Null((await client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = Session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 })).Error);
        for (var seq = 0; seq < 20; seq++)
        {
            await client.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, Session, seq, AudioCodecs.PcmS16LE, new byte[640]));
        }

        while ((await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = Session })).Value!.Meeting.Counters.Accepted < 20)
        {
            await Task.Delay(20, timeout.Token);
        }

        time.Advance(TimeSpan.FromMinutes(9));
        var stillOpen = (await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = Session })).Value!.Meeting.State;
        time.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(MeetingState.Open, stillOpen);
        Assert.True(await summaryArrived, "no summary arrived");
        var summary = ContractJson.Deserialize<MeetingSummary>(summaries.Current.Payload)!;
        Assert.Equal(SummarySource.Extractive, summary.Source);
        Assert.Contains(daemon.Logs, l => l.Message.Contains($"Meeting {Session} stopped: its earbuds sent nothing", StringComparison.Ordinal));
    }
}
