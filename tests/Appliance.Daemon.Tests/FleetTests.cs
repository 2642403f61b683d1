using System.Text;
using Appliance.Contracts;
using Appliance.Daemon.Rpc;
using Appliance.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Fleet mode on a real Mosquitto: three daemons in one group take turns at the requests on the group's fleet topic
/// through an MQTT 5 shared subscription, each request served once and its replies naming the hub; a method that
/// keeps state is refused there; fleet mode on the embedded broker or with a group name that is no topic level stops
/// the start with the reason.
/// </summary>
public sealed class FleetTests(ITestOutputHelper output)
{
    private const string Group = "hubs";

    [Fact]
    public async Task Three_hubs_share_the_fleet_requests_each_served_once_and_naming_its_hub()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var hubs = new List<RunningDaemon>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", $"--Device:Id=hub-{i}"], builder => builder.Services.AddSingleton<IRpcMethod, EchoMethod>()));
            }

            using var app = await BrokerEdgeCaseTests.RawClient.ConnectAsync(mosquitto.Host, mosquitto.Port);
            var replies = await app.SubscribeAsync(Topics.FleetReplies(Group, "app-1"));
            const int Requests = 60;
            for (var i = 0; i < Requests; i++)
            {
                await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.FleetRpc(Group, "test.echo"))
                    .WithPayload(Encoding.UTF8.GetBytes($"{{\"n\":{i}}}")).WithResponseTopic(replies.Topic).WithCorrelationData(BitConverter.GetBytes(i))
                    .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
            }

            var served = new Dictionary<int, string>();
            for (var i = 0; i < Requests; i++)
            {
                var reply = ContractJson.Deserialize<RpcReply>((await replies.NextAsync()).Payload)!;
                var n = reply.Result!.Value.GetProperty("n").GetInt32();
                Assert.True(served.TryAdd(n, reply.ServedBy!), $"request {n} was answered twice");
            }

            var spread = served.Values.GroupBy(h => h).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}: {g.Count()}").ToList();
            output.WriteLine($"{Requests} requests on the fleet topic, served by {string.Join(", ", spread)}");
            Assert.Equal(Requests, served.Count);
            Assert.Equal(["hub-0", "hub-1", "hub-2"], served.Values.Distinct().Order(StringComparer.Ordinal));
            Assert.False(replies.Reader.TryRead(out _), "a request was answered more than once");

            // A method that keeps state is served on a device's own topic only.
            var stateful = await app.SubscribeAsync(Topics.FleetReplies(Group, "app-2"));
            await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.FleetRpc(Group, RpcMethods.ModelsList.Name))
                .WithPayload("{}"u8.ToArray()).WithResponseTopic(stateful.Topic)
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
            var refused = ContractJson.Deserialize<RpcReply>((await stateful.NextAsync()).Payload)!;
            Assert.Equal(RpcErrorCodes.MethodNotFound, refused.Error?.Code);
            Assert.Contains("test.echo", refused.Error!.Message, StringComparison.Ordinal);
            Assert.StartsWith("hub-", refused.ServedBy, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A retained request on the fleet topic (a home-automation tool that retains its commands) would run again on every
    /// hub that joins: it is not executed, and the hub clears it from the broker.
    /// </summary>
    [Fact]
    public async Task A_retained_fleet_request_is_not_executed_and_is_cleared()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        using var app = await BrokerEdgeCaseTests.RawClient.ConnectAsync(mosquitto.Host, mosquitto.Port);
        var replies = await app.SubscribeAsync(Topics.FleetReplies(Group, "app-1"));
        var topic = Topics.FleetRpc(Group, "test.echo");
        await app.PublishAsync(Request(topic, n: 1, replies.Topic, retain: true));

        await using var hub = await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", "--Device:Id=hub-0"], builder => builder.Services.AddSingleton<IRpcMethod, EchoMethod>());
        await hub.WaitForLogAsync(m => m.Contains($"Retained test.echo request on {topic} refused and cleared", StringComparison.Ordinal), TimeSpan.FromSeconds(20));

        // Had the retained request run, its reply would come before this one's.
        await app.PublishAsync(Request(topic, n: 2, replies.Topic, retain: false));
        var reply = ContractJson.Deserialize<RpcReply>((await replies.NextAsync()).Payload)!;
        Assert.Equal(2, reply.Result!.Value.GetProperty("n").GetInt32());

        // Cleared: a new subscriber gets the next request on the topic, not the retained one.
        using var joining = await BrokerEdgeCaseTests.RawClient.ConnectAsync(mosquitto.Host, mosquitto.Port);
        var requests = await joining.SubscribeAsync(topic);
        await app.PublishAsync(Request(topic, n: 3, replies.Topic, retain: false));
        var (payload, retained) = await requests.NextAsync();
        Assert.False(retained, "the retained request is still on the broker");
        Assert.Equal("{\"n\":3}", Encoding.UTF8.GetString(payload));

        static MqttApplicationMessage Request(string topic, int n, string responseTopic, bool retain) =>
            new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes($"{{\"n\":{n}}}"))
                .WithResponseTopic(responseTopic).WithRetainFlag(retain)
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build();
    }

    /// <summary>
    /// A hub lost while it serves: hub-0 takes fleet requests and never answers. The client sends a request again with
    /// the same idempotency key when no reply comes within its deadline, and the broker gives it to another hub: every
    /// request is answered, none by the lost hub.
    /// </summary>
    [Fact]
    public async Task A_request_a_lost_hub_took_is_answered_by_another_hub_on_the_clients_retry()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var lost = new LostEchoMethod();
        var hubs = new List<RunningDaemon>();
        try
        {
            hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", "--Device:Id=hub-0"], builder => builder.Services.AddSingleton<IRpcMethod>(lost)));
            for (var i = 1; i < 3; i++)
            {
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", $"--Device:Id=hub-{i}"], builder => builder.Services.AddSingleton<IRpcMethod, EchoMethod>()));
            }

            await using var app = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, DeviceId = "hub-1", FleetGroup = Group });
            var servedBy = new List<string>();
            for (var n = 0; n < 6; n++)
            {
                var reply = await app.CallInFleetAsync("test.echo", Encoding.UTF8.GetBytes($"{{\"n\":{n}}}"), attempts: 3, new RpcCallOptions { Timeout = TimeSpan.FromSeconds(2) });
                Assert.Equal(n, reply.Result!.Value.GetProperty("n").GetInt32());
                servedBy.Add(reply.ServedBy!);
            }

            output.WriteLine($"served by {string.Join(", ", servedBy)}; the lost hub took {lost.Taken}");
            Assert.DoesNotContain("hub-0", servedBy);
            Assert.True(lost.Taken >= 1, "the lost hub was never given a request, so no retry was needed");
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Meetings placed across the fleet: three hubs of capacities 1, 2 and 3 take six meetings started on the fleet topic,
    /// as many each as it has places (a full hub answers busy and the client asks again, for the broker to give the start
    /// to another hub); the seventh is refused busy. Each meeting streams to the hub that took it and loses no frame.
    /// </summary>
    [Fact]
    public async Task Meetings_started_on_the_fleet_fill_every_hub_up_to_its_capacity_and_lose_nothing()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var hubs = new List<RunningDaemon>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var capacity = i + 1;
                var profile = TestProfiles.Write(p => p["meetings"] = new System.Text.Json.Nodes.JsonObject { ["capacity"] = capacity });
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Profile={profile}", $"--Fleet:Group={Group}", $"--Device:Id=hub-{i}"]));
            }

            await using var earbuds = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, DeviceId = "hub-0", FleetGroup = Group });
            var placed = new List<(string Session, string Hub)>();
            for (var i = 0; i < 6; i++)
            {
                var session = $"room-{i}";
                var (hub, result) = await earbuds.StartMeetingInFleetAsync(new MeetingStartParams { SessionId = session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
                Assert.True(result.Error is null, $"{session}: {result.Error?.Code} {result.Error?.Message}");
                placed.Add((session, hub!));
            }

            var (none, full) = await earbuds.StartMeetingInFleetAsync(new MeetingStartParams { SessionId = "room-6", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
            output.WriteLine(string.Join(", ", placed.Select(p => $"{p.Session} on {p.Hub}")));
            Assert.Null(none);
            Assert.Equal(RpcErrorCodes.Busy, full.Error?.Code);
            Assert.Equal([("hub-0", 1), ("hub-1", 2), ("hub-2", 3)], placed.GroupBy(p => p.Hub).Select(g => (g.Key, g.Count())).OrderBy(g => g.Key, StringComparer.Ordinal));

            foreach (var (session, hub) in placed)
            {
                for (var seq = 0; seq < 50; seq++)
                {
                    await earbuds.PublishAsync(MeetingAudioFrame.Create(hub, session, seq, AudioCodecs.PcmS16LE, new byte[640]));
                }
            }

            foreach (var (session, hub) in placed)
            {
                await using var onHub = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, DeviceId = hub });
                var stopped = await onHub.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = session, LastSequence = 49 });
                Assert.Null(stopped.Error);
                Assert.Empty(stopped.Value!.Gaps!);
                Assert.Equal(50, (await onHub.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session })).Value!.Meeting.Counters.Accepted);
            }
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A broker that refuses shared subscriptions (here another daemon's embedded MQTTnet broker, which answers SUBACK
    /// 0x9E) leaves the hub serving its own topics, with the <c>mqtt</c> health check and the log saying why the fleet
    /// topic is not served.
    /// </summary>
    [Fact]
    public async Task A_broker_that_refuses_shared_subscriptions_is_named_in_health_and_the_log()
    {
        await using var broker = await RunningDaemon.StartEmbeddedAsync(output);
        await using var hub = await RunningDaemon.StartExternalAsync(output, broker.BrokerHost, broker.BrokerPort, [$"--Fleet:Group={Group}", "--Device:Id=hub-x"]);
        hub.AllowErrors = true;
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.BrokerHost, Port = broker.BrokerPort, DeviceId = "hub-x" });
        await hub.WaitForLogAsync(m => m.Contains($"$share/{Group}/", StringComparison.Ordinal) && m.Contains("shared subscriptions", StringComparison.Ordinal), TimeSpan.FromSeconds(20));

        var health = await client.InvokeAsync(RpcMethods.HealthGet, new EmptyParams());
        var mqtt = health.Value!.Checks["mqtt"];
        Assert.Equal(HealthStatus.Degraded, mqtt.Status);
        Assert.Contains("does not serve MQTT 5 shared subscriptions", mqtt.Detail, StringComparison.Ordinal);
        Assert.True((await client.InvokeAsync(RpcMethods.StatusGet, new EmptyParams())).Value!.Online, "the hub still serves its own topics");
        var start = await client.ControlMeetingAsync("m1", new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
        Assert.Null(start.Error);
    }

    [Theory]
    [InlineData("--Mqtt:Mode=Embedded", "hubs", "needs an external broker")]
    [InlineData("--Mqtt:Mode=External", "a+b", "is not a valid group name")]
    [InlineData("--Mqtt:Mode=External", "fleet", "is not a valid group name")]
    public async Task A_fleet_the_set_up_cannot_serve_stops_the_start_with_the_reason(string mode, string group, string reason)
    {
        await using var daemon = DaemonProcess.Start(mode, "--Mqtt:Broker:Port=0", "--Mqtt:External:Port=1", $"--Fleet:Group={group}");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(reason, daemon.Output, StringComparison.Ordinal);
    }
}
