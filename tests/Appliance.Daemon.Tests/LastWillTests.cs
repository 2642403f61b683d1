using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;

namespace Appliance.Daemon.Tests;

/// <summary>The daemon as a separate process on an external Mosquitto broker, killed without warning.</summary>
public sealed class LastWillTests
{
    [Fact]
    public async Task A_killed_daemon_turns_offline_through_its_last_will_and_online_again_on_restart()
    {
        await using var broker = await MosquittoBroker.SharedOrPrivateAsync();
        var deviceId = $"will-{Guid.NewGuid():N}"[..13];
        string[] args = ["--Mqtt:Mode=External", $"--Mqtt:External:Host={broker.Host}", $"--Mqtt:External:Port={broker.Port}", $"--Device:Id={deviceId}"];
        await using var observer = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = deviceId });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var statuses = observer.ObserveAsync(Topics.Status(deviceId), timeout.Token).GetAsyncEnumerator(timeout.Token);

        await using (var first = DaemonProcess.Start(args))
        {
            await first.WaitReadyAsync(TimeSpan.FromSeconds(30));
            await StatusAsync(statuses, online: true);
            await first.KillAsync();
        }

        var afterKill = await StatusAsync(statuses, online: false);
        Assert.Equal("connection lost", afterKill.Reason);

        await using var second = DaemonProcess.Start(args);
        await second.WaitReadyAsync(TimeSpan.FromSeconds(30));
        await StatusAsync(statuses, online: true);
    }

    [Fact]
    public async Task An_orderly_stop_leaves_the_status_offline_with_reason_shutdown()
    {
        await using var broker = await MosquittoBroker.SharedOrPrivateAsync();
        var deviceId = $"stop-{Guid.NewGuid():N}"[..13];
        await using var observer = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = deviceId });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var statuses = observer.ObserveAsync(Topics.Status(deviceId), timeout.Token).GetAsyncEnumerator(timeout.Token);
        var daemon = await RunningDaemon.StartExternalAsync(null!, broker.Host, broker.Port, [$"--Device:Id={deviceId}"]);

        await StatusAsync(statuses, online: true);
        await daemon.DisposeAsync();

        var last = await StatusAsync(statuses, online: false);
        Assert.Equal("shutdown", last.Reason);
    }

    /// <summary>The next status document with the given online state (refreshes of the same state are passed over).</summary>
    private static async Task<StatusDocument> StatusAsync(IAsyncEnumerator<ObservedMessage> statuses, bool online)
    {
        while (true)
        {
            Assert.True(await statuses.MoveNextAsync(), $"no status with online={online} arrived in time");
            var status = statuses.Current.Deserialize<StatusDocument>()!;
            if (status.Online == online)
            {
                return status;
            }
        }
    }
}
