using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Rpc;
using Appliance.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Contract v1 as a client sees it over a real MQTT 5 connection. Every test runs twice: against the
/// daemon's embedded broker and against an external Mosquitto broker the daemon connects to.
/// </summary>
public abstract class ContractTests(ITestOutputHelper output)
{
    protected ITestOutputHelper Output { get; } = output;

    private protected abstract Task<RunningDaemon> StartDaemonAsync(Action<Microsoft.Extensions.Hosting.HostApplicationBuilder>? customize = null);

    private static void AddTestMethods(Microsoft.Extensions.Hosting.HostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<CountingMethod>();
        builder.Services.AddSingleton<IRpcMethod>(sp => sp.GetRequiredService<CountingMethod>());
        builder.Services.AddSingleton<IRpcMethod, StreamingMethod>();
    }

    [Fact]
    public async Task The_retained_status_says_online_with_version_profile_and_execution_provider()
    {
        await using var daemon = await StartDaemonAsync();
        await using var client = await daemon.ConnectAsync();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var status = await client.GetStatusAsync(timeout.Token);

        Assert.True(status.Online);
        Assert.Equal(daemon.DeviceId, status.DeviceId);
        Assert.Equal("0.1.0", status.Version);
        Assert.Equal("dev-x64", status.Profile!.Name);
        Assert.Equal("CPUExecutionProvider", status.ExecutionProvider!.Chosen);
        Assert.Contains(status.ExecutionProvider.Skipped, s => s.Name == "CUDAExecutionProvider");
        Assert.NotNull(status.Health);
        var memory = status.Health.Checks["memory"].Detail!;
        Assert.Matches(@"^\d+ MB resident of a \d+ MB budget$", memory);
        Assert.True(int.Parse(memory.Split(' ')[0], CultureInfo.InvariantCulture) > 20, memory); // a .NET host with the daemon in it is never this small
        Assert.NotNull(status.Models);
    }

    [Fact]
    public async Task A_request_is_answered_on_its_response_topic_with_the_same_correlation_data()
    {
        await using var daemon = await StartDaemonAsync();
        using var raw = new MqttClientFactory().CreateMqttClient();
        await raw.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(daemon.BrokerHost, daemon.BrokerPort).WithProtocolVersion(MqttProtocolVersion.V500).Build());
        var responseTopic = Topics.Replies(daemon.DeviceId, "raw-client");
        var reply = new TaskCompletionSource<MqttApplicationMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        raw.ApplicationMessageReceivedAsync += args =>
        {
            reply.TrySetResult(args.ApplicationMessage);
            return Task.CompletedTask;
        };
        await raw.SubscribeAsync(responseTopic, MqttQualityOfServiceLevel.AtLeastOnce);
        var correlation = RandomNumberGenerator.GetBytes(12);

        await raw.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Rpc(daemon.DeviceId, "status.get"))
            .WithPayload("{}")
            .WithResponseTopic(responseTopic)
            .WithCorrelationData(correlation)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());

        var message = await reply.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(correlation, message.CorrelationData);
        Assert.Equal("0", message.UserProperties.Single(p => p.Name == UserProperties.Sequence).ReadValueAsString());
        Assert.Equal("true", message.UserProperties.Single(p => p.Name == UserProperties.Final).ReadValueAsString());
        using var body = JsonDocument.Parse(message.ConvertPayloadToString());
        Assert.True(body.RootElement.GetProperty("final").GetBoolean());
        Assert.Equal(daemon.DeviceId, body.RootElement.GetProperty("result").GetProperty("deviceId").GetString());
        await raw.DisconnectAsync();
    }

    [Fact]
    public async Task Profile_and_health_are_served()
    {
        await using var daemon = await StartDaemonAsync();
        await using var client = await daemon.ConnectAsync();

        var profile = await client.CallAsync("profile.get");
        var health = await client.CallAsync("health.get");

        Assert.Equal("dev-x64", profile.Result!.Value.GetProperty("name").GetString());
        Assert.Equal(17, profile.Result.Value.GetProperty("gpio").GetProperty("pushToTalkPin").GetInt32());
        Assert.Equal("ok", health.Result!.Value.GetProperty("checks").GetProperty("mqtt").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Bad_requests_get_structured_errors_and_the_daemon_keeps_serving()
    {
        await using var daemon = await StartDaemonAsync();
        await using var client = await daemon.ConnectAsync();

        var unknown = await client.CallAsync("no.such.method");
        var invalidJson = await client.StreamRawAsync("status.get", Encoding.UTF8.GetBytes("{ not json")).LastAsync();
        var notAnObject = await client.StreamRawAsync("status.get", Encoding.UTF8.GetBytes("[1, 2]")).LastAsync();
        var oversized = await client.StreamRawAsync("status.get", Encoding.UTF8.GetBytes($"{{\"pad\":\"{new string('x', new RpcOptions().MaxPayloadBytes)}\"}}")).LastAsync();

        Assert.Equal(RpcErrorCodes.MethodNotFound, unknown.Error!.Code);
        Assert.Contains("status.get", unknown.Error.Message, StringComparison.Ordinal);
        Assert.Equal(RpcErrorCodes.InvalidJson, invalidJson.Error!.Code);
        Assert.Equal(RpcErrorCodes.InvalidParams, notAnObject.Error!.Code);
        Assert.Equal(RpcErrorCodes.PayloadTooLarge, oversized.Error!.Code);
        Assert.All([unknown, invalidJson, notAnObject, oversized], r => Assert.True(r.Final));

        // Random bytes on the broker port: the broker drops that connection, nothing else. The first byte is a
        // reserved packet type, so every broker must refuse at once (a stalled CONNECT is a separate test).
        var garbage = new byte[4096];
        new Random(20261126).NextBytes(garbage);
        garbage[0] = 0x00;
        Assert.True(await BrokerClosesAsync(daemon, garbage), "the broker should close a connection that speaks garbage");

        var after = await client.CallAsync("status.get");
        Assert.True(after.Result!.Value.GetProperty("online").GetBoolean());
    }

    [Fact]
    public async Task A_redelivered_command_with_the_same_idempotency_key_acts_once()
    {
        await using var daemon = await StartDaemonAsync(AddTestMethods);
        await using var client = await daemon.ConnectAsync();
        var options = new RpcCallOptions { IdempotencyKey = Guid.NewGuid().ToString() };

        var first = await client.CallAsync("test.count", options: options);
        var redelivered = await client.CallAsync("test.count", options: options);
        var fresh = await client.CallAsync("test.count", options: new RpcCallOptions { IdempotencyKey = Guid.NewGuid().ToString() });

        Assert.Equal(1, first.Result!.Value.GetProperty("count").GetInt32());
        Assert.Equal(1, redelivered.Result!.Value.GetProperty("count").GetInt32());
        Assert.Equal(2, fresh.Result!.Value.GetProperty("count").GetInt32());
        Assert.Equal(2, daemon.Service<CountingMethod>().Count);
    }

    [Fact]
    public async Task A_streamed_reply_carries_sequence_numbers_and_ends_with_one_final_message()
    {
        await using var daemon = await StartDaemonAsync(AddTestMethods);
        await using var client = await daemon.ConnectAsync();

        var replies = await client.StreamRawAsync("test.stream", "{\"parts\":5}"u8.ToArray()).ToListAsync();

        Assert.Equal([0, 1, 2, 3, 4, 5], replies.Select(r => r.Seq));
        Assert.Equal([0, 1, 2, 3, 4], replies.Take(5).Select(r => r.Delta!.Value.GetProperty("part").GetInt32()));
        Assert.All(replies.Take(5), r => Assert.False(r.Final));
        Assert.True(replies[^1].Final);
        Assert.Equal(5, replies[^1].Result!.Value.GetProperty("parts").GetInt32());
    }

    [Fact]
    public async Task Telemetry_carries_sensor_readings()
    {
        await using var daemon = await StartDaemonAsync();
        await using var client = await daemon.ConnectAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        // Readings come every second; a simulated frame may fail its checksum now and then. Wait for one with a value.
        await foreach (var message in client.ObserveAsync(Topics.Telemetry(daemon.DeviceId), timeout.Token))
        {
            using var body = JsonDocument.Parse(message.Payload);
            Assert.Equal("climate", body.RootElement.GetProperty("sensor").GetString());
            if (body.RootElement.TryGetProperty("temperatureC", out var temperature))
            {
                Assert.InRange(temperature.GetDouble(), 10, 35);
                Assert.InRange(body.RootElement.GetProperty("humidityPercent").GetDouble(), 0, 100);
                return;
            }
        }

        Assert.Fail("no telemetry reading within 30 s");
    }

    private protected static async Task<bool> BrokerClosesAsync(RunningDaemon daemon, byte[] bytes)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Parse(daemon.BrokerHost), daemon.BrokerPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(bytes);
        var buffer = new byte[1024];
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (await stream.ReadAsync(buffer, limit.Token) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

public sealed class EmbeddedBrokerContractTests(ITestOutputHelper output) : ContractTests(output)
{
    [Fact]
    public async Task A_connection_that_starts_a_packet_and_stalls_is_dropped()
    {
        await using var daemon = await StartDaemonAsync();

        // A CONNECT fixed header announcing 268 MB, then silence: dropped after Mqtt:Broker:CommunicationTimeoutSeconds.
        Assert.True(await BrokerClosesAsync(daemon, [0x10, 0xFF, 0xFF, 0xFF, 0x7F]), "the broker should drop a stalled connection");
        await using var client = await daemon.ConnectAsync();
        Assert.True((await client.CallAsync("status.get")).Result.HasValue);
    }

    private protected override Task<RunningDaemon> StartDaemonAsync(Action<Microsoft.Extensions.Hosting.HostApplicationBuilder>? customize = null) =>
        RunningDaemon.StartEmbeddedAsync(Output, [$"--Profile={TestProfiles.FastSensor()}"], customize);
}

public sealed class MosquittoContractTests(ITestOutputHelper output) : ContractTests(output), IAsyncLifetime
{
    private MosquittoBroker? _broker;

    public async Task InitializeAsync() => _broker = await MosquittoBroker.SharedOrPrivateAsync();

    public async Task DisposeAsync() => await _broker!.DisposeAsync();

    private protected override Task<RunningDaemon> StartDaemonAsync(Action<Microsoft.Extensions.Hosting.HostApplicationBuilder>? customize = null) =>
        RunningDaemon.StartExternalAsync(Output, _broker!.Host, _broker.Port, [$"--Profile={TestProfiles.FastSensor()}"], customize);
}
