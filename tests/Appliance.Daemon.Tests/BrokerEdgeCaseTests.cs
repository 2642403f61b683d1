using System.Buffers;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Tests.Common;
using System.Text.Json;
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

    /// <summary>
    /// Field case mqtt-retained-rpc: an app publishes a request with the retain flag. Whether it arrives live or is
    /// replayed from the broker's retained store when the daemon subscribes (Mosquitto keeps it across the daemon's
    /// restart), it is never executed: the reply is <c>retained_request</c>, and the retained copy is cleared, so a
    /// later subscriber to the request topic gets nothing retained (the first message it sees is a fresh marker).
    /// </summary>
    [Theory]
    [InlineData(Broker.Embedded, false)]
    [InlineData(Broker.Mosquitto, false)]
    [InlineData(Broker.Mosquitto, true)]
    public async Task A_retained_request_is_never_executed_and_is_cleared_from_the_broker(Broker kind, bool retainedBeforeStart)
    {
        await using var mosquitto = kind == Broker.Mosquitto ? await MosquittoBroker.StartPrivateAsync() : null;
        var deviceId = $"keep-{Guid.NewGuid():N}"[..13];
        var requestTopic = Topics.Rpc(deviceId, RpcMethods.HealthGet.Name);
        RunningDaemon? daemon = null;
        try
        {
            if (kind == Broker.Embedded)
            {
                daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Device:Id={deviceId}"]);
            }

            var (host, port) = daemon is null ? (mosquitto!.Host, mosquitto.Port) : (daemon.BrokerHost, daemon.BrokerPort);
            if (!retainedBeforeStart)
            {
                daemon ??= await RunningDaemon.StartExternalAsync(output, host, port, [$"--Device:Id={deviceId}"]);
            }

            using var app = await RawClient.ConnectAsync(host, port);
            var replies = await app.SubscribeAsync(Topics.Replies(deviceId, Guid.NewGuid().ToString("N")));
            await app.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(requestTopic).WithPayload("{}"u8.ToArray()).WithRetainFlag(true)
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce)
                .WithResponseTopic(replies.Topic).WithCorrelationData([7, 7]).Build());
            daemon ??= await RunningDaemon.StartExternalAsync(output, host, port, [$"--Device:Id={deviceId}"]);
            daemon.AllowErrors = true;

            var reply = ContractJson.Deserialize<RpcReply>((await replies.NextAsync()).Payload)!;
            Assert.Null(reply.Result);
            Assert.Equal(RpcErrorCodes.RetainedRequest, reply.Error?.Code);
            Assert.Contains("must not be retained", reply.Error!.Message, StringComparison.Ordinal);
            Assert.Contains(daemon.Logs, l => l.Message.Contains($"Retained health.get request on {requestTopic} refused", StringComparison.Ordinal));

            // Nothing retained is left: a new subscriber's first message is the marker published after it subscribed.
            using var observer = await RawClient.ConnectAsync(host, port);
            var seen = await observer.SubscribeAsync(requestTopic);
            await observer.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(requestTopic).WithPayload("marker"u8.ToArray()).Build());
            Assert.Equal("marker", System.Text.Encoding.UTF8.GetString((await seen.NextAsync()).Payload));
        }
        finally
        {
            if (daemon is not null)
            {
                await daemon.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// MQTT 3.1.1 clients, as many home-automation tools still are, with Mosquitto's own command-line clients in 3.1.1
    /// mode: they read the retained status and the telemetry, and call an RPC through the envelope path (reply topic
    /// and correlation id in the payload), which is what <c>mosquitto_rr -V 311</c> can do.
    /// </summary>
    [Theory]
    [InlineData(Broker.Embedded)]
    [InlineData(Broker.Mosquitto)]
    public async Task An_mqtt_311_client_reads_status_and_telemetry_and_calls_a_method(Broker kind)
    {
        ToolRunner.Require("mosquitto_rr", "mosquitto-clients");
        await using var mosquitto = kind == Broker.Mosquitto ? await MosquittoBroker.StartPrivateAsync() : null;
        await using var daemon = mosquitto is null
            ? await RunningDaemon.StartEmbeddedAsync(output)
            : await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port);
        string[] broker = ["-V", "311", "-h", daemon.BrokerHost, "-p", daemon.BrokerPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-W", "20"];

        var status = Read<StatusDocument>(ToolRunner.Run("mosquitto_sub", [.. broker, "-t", Topics.Status(daemon.DeviceId), "-C", "1"], timeoutSeconds: 30));
        var telemetry = Read<TelemetryReading>(ToolRunner.Run("mosquitto_sub", [.. broker, "-t", Topics.Telemetry(daemon.DeviceId), "-C", "1"], timeoutSeconds: 30));
        var replyTo = Topics.Replies(daemon.DeviceId, "ha-bridge");
        var envelope = ContractJson.Serialize(new RpcEnvelope { ReplyTo = replyTo, CorrelationId = "call-42", Parameters = JsonElement.Parse("{}") });
        var reply = Read<RpcReply>(ToolRunner.Run(
            "mosquitto_rr", [.. broker, "-t", Topics.RpcEnvelope(daemon.DeviceId, RpcMethods.HealthGet.Name), "-e", replyTo, "-m", System.Text.Encoding.UTF8.GetString(envelope)], timeoutSeconds: 30));

        Assert.True(status.Online);
        Assert.Equal(daemon.DeviceId, status.DeviceId);
        Assert.Equal("climate", telemetry.Sensor);
        Assert.True(reply.Final);
        Assert.Equal("call-42", reply.CorrelationId);
        Assert.False(string.IsNullOrEmpty(RpcMethods.HealthGet.ReadResult(reply)?.Status), "health.get answered through the envelope path");
    }

    /// <summary>
    /// Envelopes that cannot be answered as asked: a reply topic outside the device's prefix (the daemon would publish
    /// there with its own rights) or missing gets no reply and is logged, a retained one of them is cleared all the
    /// same, and an empty idempotency key is no key (two requests with it are both run).
    /// </summary>
    [Fact]
    public async Task Envelopes_that_cannot_be_answered_are_dropped_and_logged_and_an_empty_key_is_no_key()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output);
        daemon.AllowErrors = true;
        using var app = await RawClient.ConnectAsync(daemon.BrokerHost, daemon.BrokerPort);
        var topic = Topics.RpcEnvelope(daemon.DeviceId, RpcMethods.StatusGet.Name);
        var replies = await app.SubscribeAsync(Topics.Replies(daemon.DeviceId, "ha"));
        var elsewhere = await app.SubscribeAsync("elsewhere/replies");

        await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("{\"replyTo\":\"elsewhere/replies\",\"correlationId\":\"1\"}"u8.ToArray()).Build());
        await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("{\"correlationId\":\"2\"}"u8.ToArray()).WithRetainFlag(true).Build());
        foreach (var id in new[] { "3", "4" })
        {
            var envelope = $"{{\"replyTo\":\"{Topics.Replies(daemon.DeviceId, "ha")}\",\"correlationId\":\"{id}\",\"idempotencyKey\":\"\"}}";
            await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(System.Text.Encoding.UTF8.GetBytes(envelope)).Build());
        }

        // Both requests with the empty key are answered, each with its own correlation id, and nothing went elsewhere.
        var answered = new[] { await replies.NextAsync(), await replies.NextAsync() }.Select(r => ContractJson.Deserialize<RpcReply>(r.Payload)!.CorrelationId).Order();
        Assert.Equal(["3", "4"], answered);
        Assert.False(elsewhere.Reader.TryRead(out _));
        Assert.Contains(daemon.Logs, l => l.Message.Contains("the reply topic must be under", StringComparison.Ordinal));
        Assert.Contains(daemon.Logs, l => l.Message.Contains("replyTo is missing", StringComparison.Ordinal));

        // The retained one was cleared: a new subscriber's first message on the topic is a fresh marker.
        using var observer = await RawClient.ConnectAsync(daemon.BrokerHost, daemon.BrokerPort);
        var seen = await observer.SubscribeAsync(topic);
        await observer.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("marker"u8.ToArray()).Build());
        Assert.Equal("marker", System.Text.Encoding.UTF8.GetString((await seen.NextAsync()).Payload));
    }

    /// <summary>
    /// The daemon publishes replies with its own rights, so an MQTT 5 response topic outside the device's replies (another
    /// device's request topic, the daemon's own meeting control topic) is refused: the request is not executed, nothing
    /// is published there, the refusal is logged, and a request with a proper response topic is answered as before.
    /// </summary>
    [Fact]
    public async Task A_response_topic_outside_the_devices_replies_is_never_published_to()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output);
        daemon.AllowErrors = true;
        using var app = await RawClient.ConnectAsync(daemon.BrokerHost, daemon.BrokerPort);
        var otherDevice = Topics.Rpc("other-device", RpcMethods.HealthGet.Name);
        var ownControl = Topics.MeetingControl(daemon.DeviceId, "m1");
        var elsewhere = new[] { await app.SubscribeAsync(otherDevice), await app.SubscribeAsync(ownControl) };
        var replies = await app.SubscribeAsync(Topics.Replies(daemon.DeviceId, "good"));

        foreach (var target in new[] { otherDevice, ownControl })
        {
            await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Rpc(daemon.DeviceId, RpcMethods.HealthGet.Name)).WithPayload("{}"u8.ToArray())
                .WithResponseTopic(target).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.MeetingControl(daemon.DeviceId, "m2")).WithPayload("{\"action\":\"start\",\"codec\":\"opus\",\"sampleRate\":48000,\"channels\":1}"u8.ToArray())
            .WithResponseTopic(otherDevice).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Rpc(daemon.DeviceId, RpcMethods.HealthGet.Name)).WithPayload("{}"u8.ToArray())
            .WithResponseTopic(replies.Topic).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());

        Assert.True(ContractJson.Deserialize<RpcReply>((await replies.NextAsync()).Payload)!.Final);
        Assert.All(elsewhere, e => Assert.False(e.Reader.TryRead(out _)));
        Assert.Equal(2, daemon.Logs.Count(l => l.Message.Contains("Request for health.get not executed: the reply topic must be under appliance/v1/", StringComparison.Ordinal)));
        Assert.Contains(daemon.Logs, l => l.Message.Contains("Request for meetings m2 control not executed", StringComparison.Ordinal));
        await using var client = await daemon.ConnectAsync();
        Assert.Equal(RpcErrorCodes.UnknownSession, (await client.CallAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = "m2" })).Error?.Code);
    }

    private static T Read<T>(string printed) => ContractJson.Deserialize<T>(System.Text.Encoding.UTF8.GetBytes(printed.Trim()))!;

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

    /// <summary>A bare MQTT 5 client, as an app or a home-automation tool uses one.</summary>
    internal sealed class RawClient : IDisposable
    {
        private readonly IMqttClient _client;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Threading.Channels.Channel<MqttApplicationMessage>> _topics = new();

        private RawClient(IMqttClient client)
        {
            _client = client;
            _client.ApplicationMessageReceivedAsync += args =>
            {
                foreach (var (filter, channel) in _topics)
                {
                    if (MqttTopicFilterComparer.Compare(args.ApplicationMessage.Topic, filter) == MqttTopicFilterCompareResult.IsMatch)
                    {
                        channel.Writer.TryWrite(args.ApplicationMessage);
                    }
                }

                return Task.CompletedTask;
            };
        }

        public static async Task<RawClient> ConnectAsync(string host, int port)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithProtocolVersion(MqttProtocolVersion.V500).Build());
            return new RawClient(client);
        }

        public async Task<Subscription> SubscribeAsync(string topic)
        {
            var channel = System.Threading.Channels.Channel.CreateUnbounded<MqttApplicationMessage>();
            _topics[topic] = channel;
            await _client.SubscribeAsync(topic, MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
            return new Subscription(topic, channel.Reader);
        }

        public Task<MqttClientPublishResult> PublishAsync(MqttApplicationMessage message) => _client.PublishAsync(message);

        public void Dispose() => _client.Dispose();

        public sealed record Subscription(string Topic, System.Threading.Channels.ChannelReader<MqttApplicationMessage> Reader)
        {
            /// <summary>The next message on the topic, within 20 s.</summary>
            public async Task<(byte[] Payload, bool Retain)> NextAsync()
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                var message = await Reader.ReadAsync(timeout.Token);
                return (message.Payload.ToArray(), message.Retain);
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
