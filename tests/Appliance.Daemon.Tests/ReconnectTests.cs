using Appliance.Contracts;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>The supervising reconnect loop against an external broker that goes away and comes back.</summary>
public sealed class ReconnectTests(ITestOutputHelper output)
{
    [Fact]
    public async Task After_the_broker_restarts_the_daemon_reconnects_resubscribes_and_republishes_its_status()
    {
        await using var broker = await MosquittoBroker.StartPrivateAsync();
        await using var daemon = await RunningDaemon.StartExternalAsync(output, broker.Host, broker.Port);
        var connection = daemon.Service<MqttConnection>();
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dropped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionChanged += up => (up ? reconnected : dropped).TrySetResult();

        await broker.StopAsync();
        await dropped.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await broker.StartAsync();
        await reconnected.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // Persistence is off, so the retained status seen now was published after the reconnect.
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = daemon.DeviceId });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.True((await client.GetStatusAsync(timeout.Token)).Online);
        Assert.True((await client.CallAsync("status.get")).Result.HasValue, "RPC works again: the request filter was resubscribed");
    }
}
