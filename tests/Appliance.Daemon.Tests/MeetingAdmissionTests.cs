using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Admission control on one hub: the profile's <c>meetings.capacity</c> bounds the meetings recorded at once. A start
/// beyond it, over RPC or on the control topic, is answered <c>busy</c> with a retry hint, while the meetings already
/// recording lose no frame; a stop frees a place.
/// </summary>
public sealed class MeetingAdmissionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_start_beyond_the_capacity_is_busy_and_the_recording_meetings_lose_nothing()
    {
        var profile = TestProfiles.Write(p => p["meetings"] = new System.Text.Json.Nodes.JsonObject { ["capacity"] = 2 });
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={profile}"]);
        await using var client = await daemon.ConnectAsync();
        MeetingStartParams Start(string id) => new() { SessionId = id, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 };

        Assert.Null((await client.InvokeAsync(RpcMethods.MeetingsStart, Start("room-a"))).Error);
        Assert.Null((await client.InvokeAsync(RpcMethods.MeetingsStart, Start("room-b"))).Error);
        var third = await client.InvokeAsync(RpcMethods.MeetingsStart, Start("room-c"));
        var onControl = await client.ControlMeetingAsync("room-d", new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
        var repeated = await client.InvokeAsync(RpcMethods.MeetingsStart, Start("room-a"));

        Assert.Equal(RpcErrorCodes.Busy, third.Error?.Code);
        Assert.Equal(60, third.Error!.RetryAfterSeconds);
        Assert.Contains("records 2 meetings at once", third.Error.Message, StringComparison.Ordinal);
        Assert.Equal(RpcErrorCodes.Busy, onControl.Error?.Code);
        Assert.Null(repeated.Error);
        Assert.Equal(RpcErrorCodes.UnknownSession, (await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = "room-c" })).Error?.Code);

        // The two admitted meetings take every frame they are sent.
        for (var seq = 0; seq < 50; seq++)
        {
            await client.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, "room-a", seq, AudioCodecs.PcmS16LE, new byte[640]));
            await client.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, "room-b", seq, AudioCodecs.PcmS16LE, new byte[640]));
        }

        foreach (var room in new[] { "room-a", "room-b" })
        {
            var stopped = await client.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = room, LastSequence = 49 });
            Assert.Null(stopped.Error);
            Assert.Empty(stopped.Value!.Gaps!);
            Assert.Equal(50, (await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = room })).Value!.Meeting.Counters.Accepted);
        }

        Assert.Null((await client.InvokeAsync(RpcMethods.MeetingsStart, Start("room-c"))).Error);
    }
}
