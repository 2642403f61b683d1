using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// MQTT edge cases from the field (../shared/cases/README.md), each against the embedded broker and an external
/// Mosquitto: the broker disconnecting the daemon at any moment, requests replayed from the retained store, and
/// MQTT 3.1.1 clients.
/// </summary>
public sealed class BrokerEdgeCaseTests(ITestOutputHelper output)
{
    public enum Broker
    {
        Embedded,
        Mosquitto,
    }

    /// <summary>
    /// Field case mqtt-startup-takeover: another client with the daemon's client id (a cloned firmware image, a rolling
    /// update) connects again and again while the daemon starts and subscribes, for 4 s. The daemon process never dies
    /// of it. On Mosquitto each connect takes the session over: the daemon logs the takeover and, once the other client
    /// is gone, is back online and answering. The embedded broker refuses the daemon's own client id to anyone else,
    /// so the daemon is never disconnected.
    /// </summary>
    [Theory]
    [InlineData(Broker.Embedded)]
    [InlineData(Broker.Mosquitto)]
    public async Task A_client_taking_over_the_daemons_session_during_start_up_never_ends_the_process(Broker kind)
    {
        await using var mosquitto = kind == Broker.Mosquitto ? await MosquittoBroker.StartPrivateAsync() : null;
        var port = mosquitto?.Port ?? FreePort.Offered();
        var deviceId = $"take-{Guid.NewGuid():N}"[..13];
        string[] brokerArgs = kind == Broker.Mosquitto
            ? ["--Mqtt:Mode=External", "--Mqtt:External:Host=127.0.0.1", $"--Mqtt:External:Port={port}", "--Mqtt:ReconnectInitialDelayMs=50", "--Mqtt:ReconnectMaxDelayMs=200"]
            : ["--Mqtt:Mode=Embedded", $"--Mqtt:Broker:Port={port}"];

        await using var daemon = DaemonProcess.Start([.. brokerArgs, $"--Device:Id={deviceId}"]);
        var (attempts, accepted) = await TakeOverRepeatedlyAsync(port, $"appliance-{deviceId}", TimeSpan.FromSeconds(4));
        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(30));

        output.WriteLine($"{attempts} connects with the daemon's client id, {accepted} accepted by the broker");
        Assert.False(daemon.HasExited, $"the daemon exited:{Environment.NewLine}{daemon.Output}");
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = port, DeviceId = deviceId });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await OnlineAsync(client, deviceId, timeout.Token); // the last takeover may have published the last will first
        Assert.True((await client.CallAsync(RpcMethods.HealthGet, new EmptyParams(), cancellationToken: timeout.Token)).Result.HasValue, daemon.Output);
        if (kind == Broker.Mosquitto)
        {
            Assert.True(accepted > 0, "Mosquitto lets a client take a session over");
            Assert.True(daemon.Output.Contains($"another client with this device's client id appliance-{deviceId}", StringComparison.Ordinal), daemon.Output);
        }
        else
        {
            Assert.Equal(0, accepted);
            Assert.DoesNotContain("Lost the MQTT connection", daemon.Output, StringComparison.Ordinal);
        }

        Assert.False(daemon.HasExited, $"the daemon exited:{Environment.NewLine}{daemon.Output}");
    }

    /// <summary>Waits for a retained or fresh status document saying the device is online.</summary>
    private static async Task OnlineAsync(ApplianceClient client, string deviceId, CancellationToken cancellationToken)
    {
        await foreach (var message in client.ObserveAsync(Topics.Status(deviceId), cancellationToken))
        {
            if (message.Deserialize<StatusDocument>() is { Online: true })
            {
                return;
            }
        }
    }

    /// <summary>Connects with <paramref name="clientId"/> every 40 ms for <paramref name="duration"/>; returns the attempts and how many the broker accepted.</summary>
    private static async Task<(int Attempts, int Accepted)> TakeOverRepeatedlyAsync(int port, string clientId, TimeSpan duration)
    {
        var factory = new MqttClientFactory();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(clientId).WithProtocolVersion(MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(2)).Build();
        var (attempts, accepted) = (0, 0);
        var until = DateTime.UtcNow + duration;
        while (DateTime.UtcNow < until)
        {
            using var rogue = factory.CreateMqttClient();
            attempts++;
            try
            {
                var result = await rogue.ConnectAsync(options);
                accepted += result.ResultCode == MqttClientConnectResultCode.Success ? 1 : 0;
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or MQTTnet.Adapter.MqttConnectingFailedException)
            {
                // Nobody listening yet, or refused: try again.
            }

            await Task.Delay(40);
            // Dropped without DISCONNECT, as a crashing clone would: the broker sees the socket close.
        }

        return (attempts, accepted);
    }
}
