using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.MeetingPlayer;
using Appliance.Tests.Common;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Field case mqtt-retained-restart: what the contract marks retained (the status, and the summary of every completed
/// meeting still kept) is retained again after the daemon restarts on its embedded broker, and after an external
/// Mosquitto without persistence restarts.
/// </summary>
public sealed class RetainedStateTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    private const string Session = "retro-1";

    [Fact]
    public async Task A_completed_meetings_summary_is_retained_again_after_the_daemon_restarts()
    {
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        var port = FreePort.Offered();
        var deviceId = $"keep-{Guid.NewGuid():N}"[..13];
        string[] args = [$"--Profile={models.Profile()}", $"--Meetings:Root={root}", $"--Device:Id={deviceId}"];
        byte[] first;
        await using (var daemon = await RunningDaemon.StartEmbeddedAsync(output, args, builder => FixedPort(builder, port)))
        {
            first = await CompleteMeetingAsync(daemon);
        }

        await using var restarted = await RunningDaemon.StartEmbeddedAsync(output, args, builder => FixedPort(builder, port));
        await using var client = await restarted.ConnectAsync();

        Assert.Equal(first, await RetainedSummaryAsync(client, deviceId));
        Assert.True((await client.GetStatusAsync()).Online);
    }

    [Fact]
    public async Task A_completed_meetings_summary_is_retained_again_after_the_broker_restarts()
    {
        await using var broker = await MosquittoBroker.StartPrivateAsync();
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartExternalAsync(output, broker.Host, broker.Port, [$"--Profile={models.Profile()}", $"--Meetings:Root={root}"]);
        var first = await CompleteMeetingAsync(daemon);
        var connection = daemon.Service<Appliance.Daemon.Mqtt.MqttConnection>();
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionChanged += up =>
        {
            if (up)
            {
                reconnected.TrySetResult();
            }
        };

        await broker.StopAsync();
        await broker.StartAsync();
        await reconnected.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await using var client = await daemon.ConnectAsync();

        Assert.Equal(first, await RetainedSummaryAsync(client, daemon.DeviceId));
    }

    /// <summary>Streams a few seconds of speech as a PCM meeting and returns its summary as published.</summary>
    private async Task<byte[]> CompleteMeetingAsync(RunningDaemon daemon)
    {
        await using var client = await daemon.ConnectAsync();
        var streamer = new MeetingStreamer(client);
        await using var subscription = await streamer.SubscribeAsync(Session);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var summary = subscription.ReadSummaryAsync(timeout.Token);
        var speech = SpokenAudio.Repeated(models.Root, "The quarterly meeting will review the budget.", 4);
        var streamed = await streamer.StreamAsync(Session, speech, new MeetingStreamOptions { Codec = MeetingCodec.PcmS16LE, Speed = 0 }, cancellationToken: timeout.Token);
        Assert.True(streamed.Succeeded, "start or stop was refused");
        return await summary ?? throw new Xunit.Sdk.XunitException("no summary arrived");
    }

    /// <summary>The retained message a new subscriber gets on the summary topic (nothing else publishes there now).</summary>
    private static async Task<byte[]> RetainedSummaryAsync(ApplianceClient client, string deviceId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var message in client.ObserveAsync(Topics.MeetingSummary(deviceId, Session), timeout.Token))
        {
            return message.Payload;
        }

        throw new Xunit.Sdk.XunitException("no retained summary");
    }

    private static void FixedPort(Microsoft.Extensions.Hosting.HostApplicationBuilder builder, int port) =>
        builder.Configuration["Mqtt:Broker:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
