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
            await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.FleetRpc(Group, RpcMethods.MeetingsStart.Name))
                .WithPayload("{\"sessionId\":\"m1\",\"codec\":\"opus\",\"sampleRate\":48000,\"channels\":1}"u8.ToArray()).WithResponseTopic(stateful.Topic)
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
